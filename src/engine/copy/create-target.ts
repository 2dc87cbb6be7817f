import type { Document, MongoClient } from 'mongodb';
import type { SourceCollection } from '../catalog.js';
import type { NamespaceFilter } from '../namespaces.js';
import type { StateStore } from '../state/store.js';

/** Options listCollections reports that createCollection does not take (or must not copy). */
const NOT_CREATE_OPTIONS = new Set(['uuid']);
/** TTL relaxed to the largest value MongoDB accepts: nothing the source still holds expires on the destination. */
export const RELAXED_TTL_SECONDS = 2147483647;

/** Creates the destination collection or view with the source's options (idempotent). */
/** Name under which a clustered collection's own TTL is recorded among the relaxations. */
export const COLLECTION_TTL = '(collection expireAfterSeconds)';

export async function createTarget(destination: MongoClient, collection: SourceCollection, filter: NamespaceFilter, dropExisting: boolean, store: StateStore): Promise<void> {
  const db = destination.db(collection.target.db);
  const existing = await db.listCollections({ name: collection.target.coll }).toArray();
  if (existing.length && dropExisting) {
    await db.collection(collection.target.coll).drop().catch(ignoreCode(26));
  } else if (existing.length) {
    return;
  }
  const options: Document = {};
  for (const [key, value] of Object.entries(collection.options)) if (!NOT_CREATE_OPTIONS.has(key)) options[key] = value;
  if (collection.kind === 'clustered' && typeof options.expireAfterSeconds === 'number') {
    // A clustered collection's own TTL would delete on the destination what the source still holds.
    const target = `${collection.target.db}.${collection.target.coll}`;
    await store.relaxedIndexes.updateOne(
      { _id: { m: store.name, target, name: COLLECTION_TTL } },
      { $setOnInsert: { migration: store.name, target, name: COLLECTION_TTL, original: { expireAfterSeconds: options.expireAfterSeconds }, restored: false } },
      { upsert: true, writeConcern: { w: 'majority' } },
    );
    options.expireAfterSeconds = RELAXED_TTL_SECONDS;
  }
  if (collection.kind === 'view') {
    // A view reads its source by name: follow the source collection's rename within the same database.
    const viewOn = options.viewOn as string;
    const mapped = filter.includes(collection.db, viewOn) ? filter.target(collection.db, viewOn) : { db: collection.target.db, coll: viewOn };
    options.viewOn = mapped.db === collection.target.db ? mapped.coll : viewOn;
  }
  await db.createCollection(collection.target.coll, options).catch(ignoreCode(48));
}

/**
 * Builds the source's indexes on the destination, relaxed: unique indexes non-unique (replay passes through
 * states that violate uniqueness transiently) and TTL far in the future (the destination must not delete
 * what the source still holds). Each relaxation is recorded and undone at cutover.
 */
export async function buildIndexes(destination: MongoClient, collection: SourceCollection, store: StateStore): Promise<void> {
  const target = `${collection.target.db}.${collection.target.coll}`;
  const specs: Document[] = [];
  for (const index of collection.indexes) {
    // The _id index comes with the collection, and so does a clustered collection's cluster key index.
    if (index.name === '_id_' || index.clustered === true) continue;
    const spec: Document = { ...index };
    delete spec.v;
    delete spec.ns;
    const relaxUnique = spec.unique === true;
    const relaxTtl = typeof spec.expireAfterSeconds === 'number';
    if (relaxUnique || relaxTtl) {
      await store.relaxedIndexes.updateOne(
        { _id: { m: store.name, target, name: String(spec.name) } },
        { $setOnInsert: { migration: store.name, target, name: String(spec.name), original: { ...spec }, restored: false } },
        { upsert: true, writeConcern: { w: 'majority' } },
      );
      if (relaxUnique) delete spec.unique;
      if (relaxTtl) spec.expireAfterSeconds = RELAXED_TTL_SECONDS;
    }
    specs.push(spec);
  }
  if (!specs.length) return;
  await destination.db(collection.target.db).command({ createIndexes: collection.target.coll, indexes: specs, writeConcern: { w: 'majority' } });
}

export function ignoreCode(...codes: number[]): (error: { code?: number }) => void {
  return (error) => {
    if (!codes.includes(error.code ?? -1)) throw error;
  };
}
