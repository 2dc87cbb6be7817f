import type { MongoClient, Timestamp } from 'mongodb';
import { scrub } from '../../redact.js';
import type { VerifyReport } from '../../model.js';
import type { CollectionPlan } from '../state/types.js';
import { splitNamespace } from '../../namespaces.js';
import { clientSideHash } from '../verify/content-hash.js';
import { fieldOrderFreeBytes } from '../../mongo/raw-bson.js';
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
    const target = await hashCollection(destination, dst.db, dst.coll, collection.kind);
    let sourceHash: { count: number; hash: string };
    let method = `count+client-hash at snapshot ${at.getHighBits()}.${at.getLowBits()}`;
    try {
      sourceHash = await hashCollection(source, src.db, src.coll, collection.kind, at);
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
 * Hashes a collection's documents as the server stores them (client-side hash: raw bytes, never decoded into JS
 * objects, which reorder integer-like field names and so would call two different documents equal). With `at`, the
 * read is a snapshot read at that cluster time. Time-series measurements are hashed with their fields in name order,
 * as verify hashes them (their layout depends on the buckets: compare-collection.ts).
 */
async function hashCollection(client: MongoClient, db: string, coll: string, kind: CollectionPlan['kind'], at?: Timestamp): Promise<{ count: number; hash: string }> {
  const { hash, count } = await clientSideHash({ client, db, coll }, {
    ...(at ? { readConcern: { level: 'snapshot', atClusterTime: at } } : {}),
    ...(kind === 'timeseries' ? { normalise: fieldOrderFreeBytes } : {}),
  });
  return { count: count ?? 0, hash };
}
