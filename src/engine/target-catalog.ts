import type { Document, MongoClient } from 'mongodb';
import { errorCode, ignoreCodes, SERVER_ERROR } from '../mongo/server-errors.js';
import { splitNamespace, type Namespace, type NamespaceFilter } from '../namespaces.js';
import type { StateStore } from './state/store.js';
import { listIndexSpecs } from '../mongo/introspection.js';
import { canonical } from '../mongo/canonical.js';

/**
 * Every rule for what the migration creates on the destination, used by the copy and by DDL mirroring alike:
 * which options a collection is created with, how unique and TTL indexes are relaxed while the sides still
 * converge, and how that is recorded for the cutover to undo.
 */

/** Options listCollections or a create event reports that createCollection does not take (or must not copy). */
const NOT_CREATE_OPTIONS = new Set(['uuid', 'idIndex', 'temp']);
/** TTL relaxed to the largest value MongoDB accepts: nothing the source still holds expires on the destination. */
export const RELAXED_TTL_SECONDS = 2147483647;
/** Name under which a clustered collection's own TTL is recorded among the relaxations. */
export const COLLECTION_TTL = '(collection expireAfterSeconds)';

export interface TargetContext {
  destination: MongoClient;
  filter: NamespaceFilter;
  store: StateStore;
}

/**
 * Creates a destination collection or view with the source's options (idempotent: an existing one is kept).
 * A clustered collection is created without its TTL, which is recorded and set back at cutover (its own
 * TTL would delete on the destination what the source still holds; no relaxed value is in range, since the
 * server caps it at the seconds since the epoch).
 */
export async function createTargetCollection(ctx: TargetContext, sourceDb: string, target: Namespace, sourceOptions: Document): Promise<void> {
  const options: Document = {};
  for (const [key, value] of Object.entries(sourceOptions)) if (!NOT_CREATE_OPTIONS.has(key)) options[key] = value;
  if (options.clusteredIndex && options.expireAfterSeconds !== undefined) {
    await recordRelaxation(ctx.store, `${target.db}.${target.coll}`, COLLECTION_TTL, { expireAfterSeconds: options.expireAfterSeconds });
    delete options.expireAfterSeconds;
  }
  if (typeof options.viewOn === 'string') options.viewOn = ctx.filter.viewOnTarget(sourceDb, options.viewOn, target.db);
  await ctx.destination.db(target.db).createCollection(target.coll, options).catch(ignoreCodes(SERVER_ERROR.NamespaceExists));
}

/**
 * Records a unique or TTL index and returns the relaxed spec to create: unique built non-unique (replay passes
 * through states that violate uniqueness transiently), TTL far in the future. The definition being applied
 * now wins over an earlier record: a rerun re-reads it, and the DDL events after it bring it up to date.
 */
export async function relaxIndex(store: StateStore, target: string, index: Document): Promise<Document> {
  const spec: Document = { ...index };
  delete spec.v;
  delete spec.ns;
  const relaxUnique = spec.unique === true;
  const relaxTtl = typeof spec.expireAfterSeconds === 'number';
  if (!relaxUnique && !relaxTtl) return spec;
  await recordRelaxation(store, target, String(spec.name), { ...spec });
  if (relaxUnique) delete spec.unique;
  if (relaxTtl) spec.expireAfterSeconds = RELAXED_TTL_SECONDS;
  return spec;
}

async function recordRelaxation(store: StateStore, target: string, name: string, original: Document): Promise<void> {
  await store.relaxedIndexes.updateOne(
    { _id: { m: store.name, target, name } },
    // A (re)created relaxed index is not unique on the destination, whatever an earlier one was.
    { $set: { migration: store.name, target, name, original, restored: false, uniqueRestored: false } },
    { upsert: true, writeConcern: { w: 'majority' } },
  );
}

/**
 * A change to an index's uniqueness or TTL lands on its recorded original (the destination keeps the relaxed
 * form until cutover); an index that was not relaxed before is recorded from here on.
 */
export async function updateRelaxation(store: StateStore, target: string, name: string, change: Document): Promise<void> {
  // uniqueRestored: false makes finalize-unique.ts look at it again (converting an index already unique is a no-op).
  const set: Document = { migration: store.name, target, name, restored: false, uniqueRestored: false, 'original.name': name };
  for (const [k, v] of Object.entries(change)) set[`original.${k}`] = v;
  await store.relaxedIndexes.updateOne({ _id: { m: store.name, target, name } }, { $set: set }, { upsert: true, writeConcern: { w: 'majority' } });
}

/** Records a TTL set on a clustered collection after it was created, instead of applying it. */
export async function relaxCollectionTtl(store: StateStore, target: string, expireAfterSeconds: unknown): Promise<void> {
  await recordRelaxation(store, target, COLLECTION_TTL, { expireAfterSeconds });
}

/** Builds a source collection's indexes on the destination, relaxed (see relaxIndex). */
export async function buildTargetIndexes(ctx: Pick<TargetContext, 'destination' | 'store'>, target: Namespace, indexes: Document[]): Promise<void> {
  const specs: Document[] = [];
  // The _id index comes with the collection, and so does a clustered collection's cluster key index.
  for (const index of indexes) if (index.name !== '_id_' && index.clustered !== true) specs.push(await relaxIndex(ctx.store, `${target.db}.${target.coll}`, index));
  await createIndexesOver(ctx.destination, target, specs, { w: 'majority' });
}

/**
 * Creates indexes as the source has them now, over any stale destination index they collide with: one that holds
 * a name with another key or other options (IndexKeySpecsConflict, IndexOptionsConflict), or the same index under
 * another name (IndexOptionsConflict). The source cannot hold both, so the destination's is what a later step
 * replaced: a DDL step replayed after a crash, or a copy's index build from an older listing, met it. The
 * colliding ones are dropped and the creation tried once more.
 */
export async function createIndexesOver(destination: MongoClient, target: Namespace, specs: Document[], writeConcern?: Document): Promise<void> {
  if (!specs.length) return;
  const create = (): Promise<Document> => destination.db(target.db).command({ createIndexes: target.coll, indexes: specs, ...(writeConcern ? { writeConcern } : {}) });
  try {
    await create();
  } catch (error) {
    const code = errorCode(error);
    if (code !== SERVER_ERROR.IndexKeySpecsConflict && code !== SERVER_ERROR.IndexOptionsConflict) throw error;
    const existing = await listIndexSpecs(destination, target.db, target.coll);
    const stale = new Set<string>();
    for (const spec of specs) {
      for (const index of existing) {
        if (index.name === '_id_') continue;
        const sameName = index.name === spec.name;
        if ((sameName && indexShape(index) !== indexShape(spec)) || (!sameName && sameIdentity(index, spec))) stale.add(String(index.name));
      }
    }
    for (const name of stale) await destination.db(target.db).command({ dropIndexes: target.coll, index: name }).catch(ignoreCodes(SERVER_ERROR.IndexNotFound));
    await create();
  }
}

/** Everything that makes an index what it is, but its name and format version. */
function indexShape(index: Document): string {
  const { name: _name, v: _v, ns: _ns, background: _background, ...shape } = index;
  return canonical(Object.keys(shape).sort().map((k) => [k, shape[k] as unknown]));
}

/** What the server takes as the same index whatever the name: one key, one collation, one partial filter. */
function sameIdentity(a: Document, b: Document): boolean {
  return canonical(a.key) === canonical(b.key) && canonical(a.collation ?? null) === canonical(b.collation ?? null) && canonical(a.partialFilterExpression ?? null) === canonical(b.partialFilterExpression ?? null);
}

/** Drops a destination collection or view; false when it was not there. */
export async function dropTarget(destination: MongoClient, target: Namespace): Promise<boolean> {
  return destination
    .db(target.db)
    .collection(target.coll)
    .drop()
    .catch((error: unknown) => {
      ignoreCodes(SERVER_ERROR.NamespaceNotFound)(error);
      return false;
    });
}

/** Drops every destination namespace the migration created (and nothing else); returns those that were there. */
export async function dropMigrationTargets(destination: MongoClient, targets: readonly string[]): Promise<string[]> {
  const dropped: string[] = [];
  for (const target of targets) if (await dropTarget(destination, splitNamespace(target))) dropped.push(target);
  return dropped;
}
