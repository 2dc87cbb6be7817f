import type { Document, MongoClient } from 'mongodb';
import { OperationError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ignoreCodes, SERVER_ERROR } from '../../mongo/server-errors.js';
import type { ChangeEvent } from '../capture/change-event.js';
import { ns, splitNamespace, type Namespace, type NamespaceFilter } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import { createIndexesOver, createTargetCollection, dropTarget, relaxCollectionTtl, relaxIndex, updateRelaxation } from '../target-catalog.js';

export interface DdlContext {
  destination: MongoClient;
  filter: NamespaceFilter;
  store: StateStore;
  log: Logger;
}

const { NamespaceNotFound, IndexNotFound } = SERVER_ERROR;

/**
 * Mirrors one DDL change event (MongoDB 6.0+ with showExpandedEvents) on the destination, mapped through
 * renames. Each step is idempotent against its own result (the applier saves the position on both sides of
 * a DDL event, so a crash replays at most that one step, against what it left).
 */
export async function applyDdl(ctx: DdlContext, event: ChangeEvent): Promise<void> {
  const description = event.description;
  ctx.log.info({ operation: event.type, namespace: event.ns.coll ? ns(event.ns.db, event.ns.coll) : event.ns.db }, 'mirroring DDL');
  if (event.type === 'dropDatabase') {
    await dropDatabaseTargets(ctx, event.ns.db);
    return;
  }
  if (!event.ns.coll) throw new OperationError(`change event "${event.type}" on database ${event.ns.db} names no collection`, 'exclude that database, or re-sync after the operation');
  const source: Namespace = { db: event.ns.db, coll: event.ns.coll };
  const target = ctx.filter.target(source.db, source.coll);
  const targetNs = ns(target.db, target.coll);
  switch (event.type) {
    case 'create': {
      if (description.timeseries) {
        // Its writes go to system.buckets.*, which change streams do not report: mirroring it would leave a gap.
        throw new OperationError(
          `time-series collection ${ns(source.db, source.coll)} was created on the source during the migration; this version cannot migrate time-series collections`,
          `exclude it (namespaces.exclude: ["${ns(source.db, source.coll)}"]) and run \`tail\` again, then move it with mongodump/mongorestore`,
        );
      }
      await createTargetCollection(ctx, source.db, target, description);
      // Remembered with the copied ones, so status lists it and abort --drop-destination removes it.
      await ctx.store.migrations.updateOne(
        { _id: ctx.store.name, 'collections.target': { $ne: targetNs } },
        { $push: { collections: { source: ns(source.db, source.coll), target: targetNs, kind: description.viewOn ? 'view' : 'collection', documentsTotal: 0, bytesTotal: 0, created: true, indexesBuilt: true } } },
      );
      return;
    }
    case 'createIndexes': {
      const specs: Document[] = [];
      for (const index of (description.indexes ?? []) as Document[]) if (index.name !== '_id_') specs.push(await relaxIndex(ctx.store, targetNs, index));
      await createIndexesOver(ctx.destination, target, specs);
      return;
    }
    case 'dropIndexes': {
      for (const index of (description.indexes ?? []) as Document[]) {
        await ctx.destination.db(target.db).command({ dropIndexes: target.coll, index: index.name }).catch(ignoreCodes(IndexNotFound, NamespaceNotFound));
        await ctx.store.relaxedIndexes.deleteOne({ _id: { m: ctx.store.name, target: targetNs, name: String(index.name) } });
      }
      return;
    }
    case 'modify':
      await applyCollMod(ctx, target, description);
      return;
    case 'rename':
      await applyRename(ctx, event, source, target);
      return;
    case 'drop':
      await dropTarget(ctx.destination, target);
      await ctx.store.relaxedIndexes.deleteMany({ migration: ctx.store.name, target: targetNs });
      return;
    default:
      throw new OperationError(`change event "${event.type}" on ${ns(source.db, source.coll)} cannot be mirrored by this version`, 'exclude that namespace, or re-sync after the operation');
  }
}

async function applyRename(ctx: DdlContext, event: ChangeEvent, source: Namespace, target: Namespace): Promise<void> {
  const to = event.to;
  if (!to) throw new OperationError(`rename event on ${ns(source.db, source.coll)} names no destination namespace`, 're-sync after the operation');
  const fromIncluded = ctx.filter.includes(source.db, source.coll);
  const toIncluded = ctx.filter.includes(to.db, to.coll);
  const targetNs = ns(target.db, target.coll);
  if (fromIncluded && toIncluded) {
    const toTarget = ctx.filter.target(to.db, to.coll);
    const toNs = ns(toTarget.db, toTarget.coll);
    // Replayed after it was applied: the source name is gone (26), and what is at the new name is this collection.
    await ctx.destination
      .db('admin')
      .command({ renameCollection: targetNs, to: toNs, dropTarget: Boolean(event.description.dropTarget) })
      .catch(ignoreCodes(NamespaceNotFound));
    await moveRelaxations(ctx, targetNs, toNs);
    await ctx.store.migrations.updateOne({ _id: ctx.store.name, 'collections.target': targetNs }, { $set: { 'collections.$.target': toNs, 'collections.$.source': ns(to.db, to.coll) } });
  } else if (fromIncluded) {
    // Renamed out of the migration's scope: it no longer belongs on the destination.
    await dropTarget(ctx.destination, target);
  } else {
    throw new OperationError(
      `${ns(source.db, source.coll)} was renamed to ${ns(to.db, to.coll)} on the source, moving a collection the migration did not copy into its scope`,
      'include the original namespace too and re-sync (abort --drop-destination --confirm <name>, then sync)',
    );
  }
}

/**
 * A dropped database's collections each had their own drop event before this one; its views did not. Every
 * namespace this migration placed on the destination for that database goes (and nothing else there: a
 * destination database may hold what is not the migration's).
 */
async function dropDatabaseTargets(ctx: DdlContext, db: string): Promise<void> {
  const doc = await ctx.store.get();
  const targetDbs = new Set<string>();
  for (const collection of doc?.collections ?? []) {
    if (splitNamespace(collection.source).db !== db) continue;
    const target = splitNamespace(collection.target);
    targetDbs.add(target.db);
    await dropTarget(ctx.destination, target);
    await ctx.store.relaxedIndexes.deleteMany({ migration: ctx.store.name, target: collection.target });
  }
  // A database left holding only its (empty) view catalog goes too, as on the source.
  for (const name of targetDbs) {
    const left = await ctx.destination.db(name).listCollections({}, { nameOnly: true }).toArray();
    if (left.every((c) => c.name === 'system.views') && (await ctx.destination.db(name).collection('system.views').estimatedDocumentCount()) === 0) {
      await ctx.destination.db(name).dropDatabase();
    }
  }
}

/** The relaxations of a renamed collection follow it (their _id names the target, so they are re-keyed). */
async function moveRelaxations(ctx: DdlContext, from: string, to: string): Promise<void> {
  const records = await ctx.store.relaxedIndexes.find({ migration: ctx.store.name, target: from }).toArray();
  for (const { _id: oldId, ...record } of records) {
    await ctx.store.relaxedIndexes.updateOne({ _id: { m: ctx.store.name, target: to, name: record.name } }, { $set: { ...record, target: to } }, { upsert: true });
    await ctx.store.relaxedIndexes.deleteOne({ _id: oldId });
  }
}

async function applyCollMod(ctx: DdlContext, target: Namespace, description: Document): Promise<void> {
  const targetNs = ns(target.db, target.coll);
  const command: Document = { collMod: target.coll };
  for (const [key, value] of Object.entries(description)) {
    if (key === 'index') {
      // Uniqueness and TTL wait for the cutover (a conversion to unique on the source meets the destination
      // mid-replay, with transient duplicates): they land on the recorded original; the rest (hidden) applies.
      const { unique, prepareUnique, expireAfterSeconds, ...direct } = value as Document;
      const relaxed = Object.fromEntries(Object.entries({ unique, prepareUnique, expireAfterSeconds }).filter(([, v]) => v !== undefined));
      if (Object.keys(relaxed).length) await updateRelaxation(ctx.store, targetNs, String(direct.name), relaxed);
      if (Object.keys(direct).some((k) => k !== 'name' && k !== 'keyPattern')) command.index = direct;
    } else if (key === 'expireAfterSeconds') {
      // Only clustered collections have a collection-level TTL: it waits for the cutover like the others.
      await relaxCollectionTtl(ctx.store, targetNs, value);
    } else {
      command[key] = value;
    }
  }
  // Replayed onto a copy made after the collection was dropped (or renamed away) on the source, it finds no
  // collection (26): the drop or rename that follows in the stream is what the copy already shows.
  if (Object.keys(command).length > 1) await ctx.destination.db(target.db).command(command).catch(ignoreCodes(NamespaceNotFound));
}
