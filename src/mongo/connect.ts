import { MongoClient, type MongoClientOptions } from 'mongodb';
import { OperationError } from '../errors.js';
import { redactUri, registerUriSecrets, scrub } from '../redact.js';
import { VERSION } from '../version.js';
import { PROCESS_TAG, tagDriverName } from './client-operations.js';

export type Side = 'source' | 'destination';

/** Why a cluster could not be reached, told apart so the remedy fits. */
export type ConnectFailure = 'dns' | 'refused' | 'timeout' | 'tls' | 'auth' | 'other';

export interface ConnectOptions {
  /** How long server selection may take before the attempt counts as failed. */
  timeoutMs?: number;
  extra?: MongoClientOptions;
  /** Which part of the engine the client serves, named in the default appName (a DBA sees it in currentOp). */
  role?: string;
}

/** Opens a client and proves the connection with a ping; failures become OperationErrors with a remedy. */
export async function connectCluster(uri: string, side: Side, options: ConnectOptions = {}): Promise<MongoClient> {
  registerUriSecrets(uri);
  let client: MongoClient;
  try {
    client = new MongoClient(uri, clientOptions(uri, options.timeoutMs ?? 15_000, options.extra, options.role));
  } catch (error) {
    throw connectError(error, side, uri); // a malformed connection string
  }
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return client;
  } catch (error) {
    await client.close().catch(() => undefined);
    throw connectError(error, side, uri);
  }
}

/**
 * Our defaults, except where the connection string says otherwise: a user's explicit
 * serverSelectionTimeoutMS / connectTimeoutMS / appName wins (options passed here would override the URI's).
 */
export function clientOptions(uri: string, timeoutMs: number, extra: MongoClientOptions = {}, role?: string): MongoClientOptions {
  const query = (uri.split('?')[1] ?? '').toLowerCase();
  const has = (name: string): boolean => new RegExp(`(^|&)${name.toLowerCase()}=`).test(query);
  return {
    ...(has('appName') ? {} : { appName: `mongo-live-migrate/${VERSION}${role ? ` ${role}` : ''}` }),
    ...(has('serverSelectionTimeoutMS') ? {} : { serverSelectionTimeoutMS: timeoutMs }),
    ...(has('connectTimeoutMS') ? {} : { connectTimeoutMS: timeoutMs }),
    // Whatever appName the user chose: a successor finds this process's operations by it (client-operations.ts).
    driverInfo: { name: tagDriverName(PROCESS_TAG), version: VERSION },
    ...extra,
  };
}

export function classifyConnectError(error: unknown): ConnectFailure {
  const text = describeChain(error);
  if (/Authentication failed|AuthenticationFailed|auth.*fail|SCRAM|code 18\b/i.test(text)) return 'auth';
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|querySrv|ENODATA/i.test(text)) return 'dns';
  if (/ECONNREFUSED/i.test(text)) return 'refused';
  if (/SSL|TLS|certificate|EPROTO|wrong version number|self[- ]signed/i.test(text)) return 'tls';
  if (/timed out|ETIMEDOUT|Server selection timed out/i.test(text)) return 'timeout';
  return 'other';
}

const REMEDIES: Record<ConnectFailure, string> = {
  dns: 'the host name does not resolve: check the host in the connection string and the runner\'s DNS',
  refused: 'nothing listens at that address: check the host and port, and that mongod is running',
  timeout: 'no answer in time: check firewalls / IP access lists (Atlas: add the runner\'s IP) and the port',
  tls: 'the TLS handshake failed: check tls=true/false, the CA file (tlsCAFile) and the server certificate',
  auth: 'authentication failed: check the user name, the password and authSource in the connection string',
  other: 'check the connection string and that the server is a reachable MongoDB replica set',
};

export function connectError(error: unknown, side: Side, uri: string): OperationError {
  const kind = classifyConnectError(error);
  const label = { dns: 'host name not resolved', refused: 'connection refused', timeout: 'timed out', tls: 'TLS failure', auth: 'authentication failed', other: 'connection failed' }[kind];
  const cause = scrub(firstLine(describeChain(error)));
  // The cause stays attached (never printed): retry logic looks through it for a transient network error.
  return new OperationError(`cannot connect to the ${side} (${redactUri(uri)}): ${label}: ${cause}`, REMEDIES[kind], { cause: error });
}

/** The messages of an error and its causes (the driver nests the interesting one). */
function describeChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { message?: string; code?: unknown; reason?: { servers?: Map<string, { error?: unknown }> }; cause?: unknown };
    if (e.message) parts.push(e.message);
    if (e.code !== undefined) parts.push(`code ${String(e.code)}`);
    for (const server of e.reason?.servers?.values() ?? []) if (server.error) parts.push(String((server.error as Error).message ?? server.error));
    current = e.cause;
  }
  // The same message often comes back from every level of the chain and every server: say it once.
  return [...new Set(parts)].join(' | ');
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).slice(0, 300);
}
