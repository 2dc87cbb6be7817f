import type { Document, MongoClient, Timestamp } from 'mongodb';
import { bytesOf, decodeIdKey, rawIdKey } from '../../../mongo/raw-bson.js';
import { failpoint } from '../../failpoints.js';
import { splitNamespace } from '../../namespaces.js';
import type { RecheckDoc } from '../../state/types.js';
import type { RecheckQueue } from './recheck-queue.js';

export type DifferenceKind = 'content' | 'missing-document' | 'extra-document';

export interface RecheckResult {
  checked: number;
  different: { entry: RecheckDoc; kind: DifferenceKind }[];
}

/**
 * Documents of one namespace whose _id is among `ids`, as raw bytes keyed by the hex of their _id element; with
 * `at`, as they were at that cluster time (a snapshot read: a rehearsal's frozen point while the source goes on).
 */
async function lookup(client: MongoClient, namespace: string, ids: unknown[], at?: Timestamp): Promise<Map<string, Buffer>> {
  const { db, coll } = splitNamespace(namespace);
  const filter: Document = { _id: { $in: ids } };
  const found = new Map<string, Buffer>();
  const add = (raw: Buffer): void => {
    const key = rawIdKey(raw);
    if (key) found.set(key.toString('hex'), raw);
  };
  if (!at) {
    // raw: the bytes as stored, compared byte for byte (the same exactness as verify's content hash).
    for (const doc of await client.db(db).collection(coll).find(filter, { raw: true, batchSize: ids.length + 1 }).toArray()) add(doc as unknown as Buffer);
    return found;
  }
  const database = client.db(db);
  let reply = await database.command({ find: coll, filter, batchSize: ids.length + 1, readConcern: { level: 'snapshot', atClusterTime: at } }, RAW_FIRST as object);
  for (;;) {
    const cursor = reply.cursor as { id: unknown; firstBatch?: Buffer[]; nextBatch?: Buffer[] };
    for (const raw of cursor.firstBatch ?? cursor.nextBatch ?? []) add(raw);
    if (String(cursor.id) === '0') return found;
    reply = await database.command({ getMore: cursor.id, collection: coll }, RAW_NEXT as object);
  }
}

// fieldsAsRaw: the documents of a command reply come back as the server's bytes (as a cursor with raw: true).
const RAW_FIRST = { fieldsAsRaw: { firstBatch: true } };
const RAW_NEXT = { fieldsAsRaw: { nextBatch: true } };

/**
 * Compares each queued document on both sides, byte for byte, in one `$in` read per namespace and side, and
 * records the outcome in the queue (see RecheckQueue.settle). While the sides still move a difference only backs
 * off; the caller decides what a difference means (at cutover, with the sides frozen, it is a mismatch).
 */
export async function recheckEntries(source: MongoClient, destination: MongoClient, queue: RecheckQueue, entries: readonly RecheckDoc[], sourceAt?: Timestamp): Promise<RecheckResult> {
  const groups = new Map<string, RecheckDoc[]>();
  for (const entry of entries) {
    const name = `${entry.s}\u0000${entry.t}`;
    const group = groups.get(name);
    if (group) group.push(entry);
    else groups.set(name, [entry]);
  }
  const equal: RecheckDoc[] = [];
  const different: RecheckResult['different'] = [];
  // Namespaces at once: each is two indexed $in reads, and a cutover's queue spans every collection written.
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const ids = group.map((e) => decodeIdKey(rawIdKey(bytesOf(e.key))!));
      const [onSource, onDestination] = await Promise.all([lookup(source, group[0]!.s, ids, sourceAt), lookup(destination, group[0]!.t, ids)]);
      for (const entry of group) {
        const k = entry._id.k;
        const s = onSource.get(k);
        const d = onDestination.get(k);
        if (!s && !d) equal.push(entry);
        else if (s && d && s.equals(d)) equal.push(entry);
        else different.push({ entry, kind: !d ? 'missing-document' : !s ? 'extra-document' : 'content' });
      }
    }),
  );
  failpoint('verify:recheck-compared');
  await queue.settle(equal, different);
  return { checked: entries.length, different };
}
