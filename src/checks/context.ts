import { MongoClient } from 'mongodb';
import type { Config } from '../config/types.js';
import { NamespaceFilter } from '../namespaces.js';
import { classifyConnectError, clientOptions, connectError, type Side } from '../mongo/connect.js';
import { registerUriSecrets, scrub } from '../redact.js';
import { Facts } from './facts.js';
import type { CheckContext, SideConnection } from './types.js';

export interface ContextOptions {
  /** How long reaching a side may take before it counts as unreachable. */
  connectTimeoutMs?: number;
  now?: () => number;
}

/**
 * Connects to both sides without throwing: an unreachable side becomes a finding of the connection check,
 * so that validate still runs every check the other side can answer.
 */
export async function openCheckContext(config: Config, options: ContextOptions = {}): Promise<CheckContext> {
  const [source, destination] = await Promise.all([
    reach(config.source.uri, 'source', options.connectTimeoutMs ?? 10_000),
    reach(config.destination.uri, 'destination', options.connectTimeoutMs ?? 10_000),
  ]);
  const filter = new NamespaceFilter(config.namespaces);
  return {
    config,
    filter,
    source,
    destination,
    facts: new Facts({ source: source.client, destination: destination.client }, filter),
    now: options.now ?? Date.now,
  };
}

export async function closeCheckContext(context: CheckContext): Promise<void> {
  await Promise.all([context.source.client?.close(), context.destination.client?.close()].map((p) => p?.catch(() => undefined)));
}

async function reach(uri: string, side: Side, timeoutMs: number): Promise<SideConnection> {
  registerUriSecrets(uri);
  const started = Date.now();
  let client: MongoClient | undefined;
  try {
    client = new MongoClient(uri, clientOptions(uri, timeoutMs));
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return { side, uri, client, connectFailure: null, connectMs: Date.now() - started };
  } catch (error) {
    await client?.close().catch(() => undefined);
    // A malformed connection string throws in the constructor: same report, "other" kind.
    const described = connectError(error, side, uri);
    return {
      side,
      uri,
      client: null,
      connectFailure: { kind: classifyConnectError(error), message: scrub(described.message), remedy: described.hint ?? '' },
      connectMs: Date.now() - started,
    };
  }
}
