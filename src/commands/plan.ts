import type { MongoClient } from 'mongodb';
import { classifyCollection } from '../checks/collection-kinds.js';
import { destinationNeighbours } from '../checks/destination-neighbours.js';
import { Facts, type SourceNamespace } from '../checks/facts.js';
import { oplogWindow } from '../checks/oplog-window.js';
import { listSome } from '../checks/types.js';
import type { Config } from '../config/types.js';
import { NamespaceFilter } from '../namespaces.js';
import { connectCluster } from '../mongo/connect.js';
import { oplogBounds } from '../mongo/introspection.js';
import { formatBytes, formatCount, plural } from '../format.js';
import type { CommandOutcome, Plan, PlanEntry } from '../model.js';
import type { CommandImpl } from './types.js';

/** The read probe: long enough to see a steady rate, short enough for a PR check. */
export const PROBE_MAX_MS = 3000;
export const PROBE_MAX_BYTES = 64 * 1024 * 1024;

export const runPlan: CommandImpl = (config) => plan(config);

export interface PlanOptions {
  connectTimeoutMs?: number;
}

/** What will move, how big it is and how long the copy should take. Reads only; writes nothing. */
export async function plan(config: Config, options: PlanOptions = {}): Promise<CommandOutcome> {
  const timeout = { timeoutMs: options.connectTimeoutMs ?? 15_000 };
  const source = await connectCluster(config.source.uri, 'source', timeout);
  let destination: MongoClient | undefined;
  try {
    destination = await connectCluster(config.destination.uri, 'destination', timeout);
    const result = await buildPlan(config, source, destination);
    const neighbours = await destinationNeighbours(new Facts({ source, destination }, new NamespaceFilter(config.namespaces)), destination, config.name);
    const alongside = neighbours.length ? `; the target databases already hold ${neighbours.length} other namespace${neighbours.length === 1 ? '' : 's'} (${listSome(neighbours, 5)}), left alone and not verified` : '';
    const conflicts = result.entries.filter((e) => e.action === 'conflict').length;
    const skipped = result.entries.filter((e) => e.action === 'skip').length;
    const notes = [conflicts ? plural(conflicts, 'conflicting destination collection') : '', skipped ? `${plural(skipped, 'unsupported namespace')} skipped` : ''].filter(Boolean);
    return {
      command: 'plan',
      exitCode: 0,
      summary: `migration "${config.name}" moves ${plural(result.totals.collections, 'collection')} and ${plural(result.totals.views, 'view')} (${plural(result.totals.documents, 'document')}, ${formatBytes(result.totals.dataBytes)})${notes.length ? `; ${notes.join(', ')}: run validate for the remedies` : ''}${alongside}`,
      plan: result,
      nextStep: `mongo-live-migrate ${notes.length ? 'validate' : 'sync'} --config ${config.file}`,
    };
  } finally {
    await Promise.all([source.close(), destination?.close()].map((p) => p?.catch(() => undefined)));
  }
}

export async function buildPlan(config: Config, source: MongoClient, destination: MongoClient): Promise<Plan> {
  const filter = new NamespaceFilter(config.namespaces);
  const facts = new Facts({ source, destination }, filter);
  const entries: PlanEntry[] = [];
  for (const n of await facts.includedNamespaces()) entries.push(await planEntry(n, facts, destination, config.sync.dropDestination));
  const copied = entries.filter((e) => e.kind !== 'view' && e.action !== 'skip');
  const totals = {
    collections: copied.length,
    views: entries.filter((e) => e.kind === 'view').length,
    documents: copied.reduce((s, e) => s + e.documents, 0),
    dataBytes: copied.reduce((s, e) => s + e.dataBytes, 0),
    indexes: copied.reduce((s, e) => s + e.indexes.length, 0),
  };
  const largest = [...copied].sort((a, b) => b.dataBytes - a.dataBytes)[0];
  const estimate = largest && totals.dataBytes > 0 ? await estimateCopy(source, largest.source, totals.dataBytes) : { seconds: 0, method: 'nothing to copy' };
  const bounds = await oplogBounds(source).catch(() => null);
  return { entries, totals, estimate, oplogWindowSeconds: bounds ? Math.round(oplogWindow(bounds).capacitySeconds) : null };
}

async function planEntry(n: SourceNamespace, facts: Facts, destination: MongoClient, dropDestination: boolean): Promise<PlanEntry> {
  const c = classifyCollection(n);
  const kind: PlanEntry['kind'] = c.kind === 'view' || c.kind === 'capped' || c.kind === 'clustered' ? c.kind : c.kind === 'time-series' ? 'timeseries' : 'collection';
  const base = { source: `${n.db}.${n.coll}`, target: `${n.target.db}.${n.target.coll}`, kind };
  if (c.support !== 'supported') return { ...base, documents: 0, dataBytes: 0, indexes: [], action: 'skip' };
  let documents = 0;
  let dataBytes = 0;
  let indexes: string[] = [];
  if (kind !== 'view') {
    const sizes = await facts.sizes('source', n.db, n.coll);
    documents = sizes.documents;
    dataBytes = sizes.dataBytes;
    indexes = (await facts.indexes('source', n.db, n.coll)).map((i) => i.name);
  }
  const existing = await facts.destinationCollection(n.target.db, n.target.coll);
  let occupied = false;
  if (existing) occupied = existing.type === 'view' || (await destination.db(n.target.db).collection(n.target.coll).findOne({}, { projection: { _id: 1 } })) !== null;
  return { ...base, documents, dataBytes, indexes, action: occupied ? (dropDestination ? 'drop-and-recreate' : 'conflict') : 'create' };
}

/**
 * A short measured read of the largest collection: raw BSON batches (no decoding, as a copy moves them) for
 * up to PROBE_MAX_MS or PROBE_MAX_BYTES, extrapolated to all the data. Reading is usually the cheaper half
 * of a copy, so this is a lower bound on the copy time of one stream.
 */
export async function estimateCopy(client: MongoClient, namespace: string, totalBytes: number): Promise<Plan['estimate']> {
  const dot = namespace.indexOf('.');
  const cursor = client.db(namespace.slice(0, dot)).collection(namespace.slice(dot + 1)).find({}, { raw: true, batchSize: 1000 });
  const started = performance.now();
  let bytes = 0;
  let documents = 0;
  try {
    for await (const doc of cursor) {
      bytes += (doc as unknown as Uint8Array).byteLength;
      documents++;
      if (bytes >= PROBE_MAX_BYTES || performance.now() - started >= PROBE_MAX_MS) break;
    }
  } finally {
    await cursor.close();
  }
  const seconds = Math.max(0.001, (performance.now() - started) / 1000);
  if (bytes === 0) return { seconds: null, method: `the read probe of ${namespace} returned nothing` };
  const rate = bytes / seconds;
  const exhaustive = bytes >= totalBytes;
  return {
    seconds: Math.ceil(totalBytes / rate),
    method: `read probe: ${formatCount(documents)} documents (${formatBytes(bytes)}) of ${namespace} in ${seconds.toFixed(2)} s on one cursor = ${formatBytes(rate)}/s, applied to ${formatBytes(totalBytes)}${exhaustive ? ' (the probe read all of it)' : ''}; writes to the destination and index builds add to it, parallel partitions take from it`,
  };
}
