import { BSON, type Document, type Long, type MongoClient, type Timestamp } from 'mongodb';
import { EXACT_TYPES } from '../copy/copy-partition.js';
import { scrub } from '../../redact.js';
import type { VerifyReport } from '../../model.js';
import type { CollectionPlan } from '../state/types.js';
import { splitNamespace } from '../../namespaces.js';
import { OrderIndependentHash } from '../verify/content-hash.js';
import { errorMessage } from '../../errors.js';

/**
 * Compares the destination (frozen at source time T) with the source as it was at T, read through a
 * snapshot at T: exact even though the source kept changing. Where the server can no longer serve T (its
 * snapshot history window, 5 minutes by default, has passed), it says so and compares current counts.
 */
export async function compareAtSnapshot(source: MongoClient, destination: MongoClient, collections: CollectionPlan[], at: Timestamp): Promise<VerifyReport> {
  const report: VerifyReport = { mode: 'hash', exact: true, collections: [], mismatches: [], notes: [] };
  for (const collection of collections) {
    if (collection.kind === 'view') continue;
    const src = splitNamespace(collection.source);
    const dst = splitNamespace(collection.target);
    const target = await hashCollection(destination, dst.db, dst.coll);
    let sourceHash: { count: number; hash: string };
    let method = `count+client-hash at snapshot ${at.getHighBits()}.${at.getLowBits()}`;
    try {
      sourceHash = await hashCollection(source, src.db, src.coll, at);
    } catch (error) {
      report.exact = false;
      method = 'count now (snapshot unavailable)';
      report.notes!.push(`${collection.source}: the source could not be read as of T (${scrub(errorMessage(error))}); compared today's count instead`);
      sourceHash = { count: await source.db(src.db).collection(src.coll).countDocuments({}), hash: target.hash };
    }
    const equal = sourceHash.count === target.count && sourceHash.hash === target.hash;
    report.collections.push({ source: collection.source, target: collection.target, sourceCount: sourceHash.count, targetCount: target.count, method, equal });
    if (!equal) {
      report.mismatches.push({ namespace: collection.source, kind: sourceHash.count === target.count ? 'content' : 'count', detail: `source at T: ${sourceHash.count} documents, destination: ${target.count}` });
    }
  }
  return report;
}

/**
 * Hashes a collection's documents (exact types, re-encoded identically on both sides). With `at`, the read is
 * a snapshot read at that cluster time, issued as raw find/getMore commands so the time is ours to choose.
 */
async function hashCollection(client: MongoClient, db: string, coll: string, at?: Timestamp): Promise<{ count: number; hash: string }> {
  const database = client.db(db);
  const acc = new OrderIndependentHash();
  const first = await database.command({ find: coll, batchSize: 1000, ...(at ? { readConcern: { level: 'snapshot', atClusterTime: at } } : {}) }, EXACT_TYPES);
  let cursor = first.cursor as { id: Long | number; firstBatch?: Document[]; nextBatch?: Document[] };
  for (;;) {
    for (const doc of cursor.firstBatch ?? cursor.nextBatch ?? []) acc.add(BSON.serialize(doc));
    if (String(cursor.id) === '0') break;
    const next = await database.command({ getMore: cursor.id, collection: coll, batchSize: 1000 }, EXACT_TYPES);
    cursor = next.cursor as typeof cursor;
  }
  return { count: acc.count, hash: acc.hex() };
}
