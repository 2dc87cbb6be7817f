import { setTimeout as sleep } from 'node:timers/promises';
import { UUID, type MongoClient, type Timestamp } from 'mongodb';
import { OperationError } from '../../errors.js';
import { lastWriteTime, primaryOplogCommands } from '../../mongo/introspection.js';
import { splitNamespace } from '../../namespaces.js';
import { readCatalog, type SourceCollection } from '../catalog.js';
import type { MigrationRun } from '../run.js';
import type { CollectionPlan } from '../state/types.js';

/**
 * Where the copy finds each planned collection on the source: by UUID, which follows a collection through renames.
 * A collection no longer there is not copied (replay applies its drop). But the catalog shows what the primary has
 * applied, and a drop (or rename away) a majority does not hold yet can be rolled back by a failover: the collection
 * is then on the source again, with nothing copied and no drop to replay. So a collection counts as gone only once
 * a majority holds its removal; until then the copy waits (a removal is majority-committed within moments on a
 * healthy set, and a failover makes the copy start again from the saved state, where it finds the collection back).
 */

/** How long the copy waits for a majority of the source to hold the removal of a collection it planned. */
const REMOVAL_WAIT_MS = 60_000;
const RECHECK_MS = 250;

/** Each planned collection where the catalog shows it now, found by UUID (by name without one); undefined when gone. */
export function locate(catalog: SourceCollection[], plans: CollectionPlan[]): Map<string, SourceCollection | undefined> {
  const byUuid = new Map(catalog.filter((c) => c.uuid).map((c) => [c.uuid!, c]));
  const byName = new Map(catalog.map((c) => [`${c.db}.${c.coll}`, c]));
  const located = new Map<string, SourceCollection | undefined>();
  for (const plan of plans) {
    const now = plan.uuid ? byUuid.get(plan.uuid) : byName.get(plan.source);
    located.set(plan.source, now && { ...now, target: splitNamespace(plan.target) });
  }
  return located;
}

/** locate(), once every planned collection the catalog no longer shows is gone for good (read again until then). */
export async function locateDurably(run: MigrationRun, plans: CollectionPlan[], catalog?: SourceCollection[]): Promise<Map<string, SourceCollection | undefined>> {
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  for (let round = 0; ; round++) {
    const located = locate(catalog ?? (await readCatalog(run.source, run.filter)), plans);
    catalog = undefined;
    const missing = plans.filter((plan) => plan.uuid && !located.get(plan.source)).map((plan) => ({ uuid: plan.uuid!, db: splitNamespace(plan.source).db, name: plan.source }));
    const pending = await removalsPending(run.source, missing);
    if (!pending) return located;
    if (!round) logWait(run, missing.map((m) => m.name).join(', '), pending);
    waitedTooLong(deadline, pending);
    await sleep(RECHECK_MS);
  }
}

/** The collection's name right now (it may be renamed while others are copied); undefined once it is gone for good. */
export async function relocate(run: MigrationRun, collection: SourceCollection): Promise<SourceCollection | undefined> {
  if (!collection.uuid) return collection;
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  for (let round = 0; ; round++) {
    const at = await findByUuid(run.source, collection.uuid, collection.db);
    if (at) return { ...collection, ...at };
    const pending = await removalsPending(run.source, [{ uuid: collection.uuid, db: collection.db }]);
    if (!pending) return undefined;
    if (!round) logWait(run, `${collection.db}.${collection.coll}`, pending);
    waitedTooLong(deadline, pending);
    await sleep(RECHECK_MS);
  }
}

/** Where the collection with this UUID is now (its home database first), or undefined when none has it. */
export async function findByUuid(source: MongoClient, uuid: string, home: string): Promise<{ db: string; coll: string } | undefined> {
  const id = new UUID(uuid);
  const found = async (db: string): Promise<string | undefined> => (await source.db(db).listCollections({ 'info.uuid': id }, { nameOnly: false }).toArray())[0]?.name;
  const here = await found(home);
  if (here) return { db: home, coll: here };
  const { databases } = await source.db('admin').command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    const there = name === home ? undefined : await found(name);
    if (there) return { db: name, coll: there };
  }
  return undefined;
}

/**
 * The first removal of one of these collections (by UUID, or of its whole database) that the primary has applied and
 * a majority does not hold yet, read from the primary's oplog (primaryOplogCommands; validate checks the privilege);
 * undefined when there is none, so every removal the catalog showed before this call is majority-committed.
 */
async function removalsPending(source: MongoClient, collections: { uuid: string; db: string }[]): Promise<{ ts: Timestamp; op: string } | undefined> {
  if (!collections.length) return undefined;
  // In this order: whatever the catalog read before showed is at or before `seen`.
  const seen = await lastWriteTime(source, 'applied');
  const majority = await lastWriteTime(source, 'majority');
  if (!seen.greaterThan(majority)) return undefined;
  const uuids = collections.map((c) => new UUID(c.uuid));
  const databases = [...new Set(collections.map((c) => `${c.db}.$cmd`))];
  const removal = { $or: [{ ui: { $in: uuids }, $or: [{ 'o.drop': { $exists: true } }, { 'o.renameCollection': { $exists: true } }] }, { ns: { $in: databases }, 'o.dropDatabase': { $exists: true } }] };
  const entry = await primaryOplogCommands(source, majority, seen, removal).limit(1).next();
  return entry ? { ts: entry.ts, op: Object.keys(entry.o)[0] ?? 'command' } : undefined;
}

function logWait(run: MigrationRun, collections: string, pending: { op: string }): void {
  run.ports.log.info({ collections, removal: pending.op }, 'waiting until a majority of the source holds the removal of a collection the copy planned');
}

function waitedTooLong(deadline: number, pending: { op: string }): void {
  if (Date.now() <= deadline) return;
  throw new OperationError(
    `a collection the copy planned was removed on the source (${pending.op}) and a majority of the source has not held that removal for ${REMOVAL_WAIT_MS / 1000} s: until it does, a failover could bring the collection back, so the copy does not take it as gone`,
    "run `sync` again once the source's secondaries have caught up (rs.status()); the copy continues from its saved state",
  );
}
