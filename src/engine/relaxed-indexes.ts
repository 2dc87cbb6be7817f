import type { Document } from 'mongodb';
import type { StateStore } from './state/store.js';

/** TTL relaxed to the largest value MongoDB accepts: nothing the source still holds expires on the destination. */
export const RELAXED_TTL_SECONDS = 2147483647;

/**
 * The index spec to build on the destination during sync: unique indexes non-unique (replay passes through
 * states that violate uniqueness transiently) and TTL far in the future. Each relaxation is recorded with
 * the original spec, which cutover restores. Used for copied indexes and for indexes created during tail.
 */
export async function relaxIndex(store: StateStore, targetNs: string, index: Document): Promise<Document> {
  const spec: Document = { ...index };
  delete spec.v;
  delete spec.ns;
  const relaxUnique = spec.unique === true;
  const relaxTtl = typeof spec.expireAfterSeconds === 'number';
  if (!relaxUnique && !relaxTtl) return spec;
  await store.relaxedIndexes.updateOne(
    { _id: { m: store.name, target: targetNs, name: String(spec.name) } },
    { $set: { migration: store.name, target: targetNs, name: String(spec.name), original: { ...spec }, restored: false } },
    { upsert: true, writeConcern: { w: 'majority' } },
  );
  if (relaxUnique) delete spec.unique;
  if (relaxTtl) spec.expireAfterSeconds = RELAXED_TTL_SECONDS;
  return spec;
}
