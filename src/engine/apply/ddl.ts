import type { Document, MongoClient } from 'mongodb';
import { OperationError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ignoreCode, RELAXED_TTL_SECONDS } from '../copy/create-target.js';
import { ns, type NamespaceFilter } from '../namespaces.js';
import type { StateStore } from '../state/store.js';

export interface DdlContext {
  destination: MongoClient;
  filter: NamespaceFilter;
  store: StateStore;
  log: Logger;
  /** Target namespaces known to exist; DDL keeps it true. */
  knownTargets: Set<string>;
}

/** Server codes for "already exists" / "does not exist", which make replayed DDL idempotent. */
const NAMESPACE_EXISTS = 48;
const NAMESPACE_NOT_FOUND = 26;
const INDEX_NOT_FOUND = 27;

/**
 * Mirrors one DDL change event (MongoDB 6.0+ with showExpandedEvents) on the destination, mapped through
 * renames. Every step tolerates having been applied already: replay after a crash repeats DDL.
 */
export async function applyDdl(ctx: DdlContext, event: Document): Promise<void> {
  const type = event.operationType as string;
  const source = event.ns as { db: string; coll?: string };
  const description = (event.operationDescription ?? {}) as Document;
  const target = source.coll ? ctx.filter.target(source.db, source.coll) : undefined;
  const targetNs = target ? ns(target.db, target.coll) : '';
  const db = target ? ctx.destination.db(target.db) : undefined;
  ctx.log.info({ operation: type, namespace: source.coll ? ns(source.db, source.coll) : source.db }, 'mirroring DDL');
  switch (type) {
    case 'create': {
      const options: Document = { ...description };
      delete options.idIndex;
      if (options.viewOn && source.coll) {
        const on = ctx.filter.includes(source.db, options.viewOn as string) ? ctx.filter.target(source.db, options.viewOn as string) : undefined;
        if (on && on.db === target!.db) options.viewOn = on.coll;
      }
      await db!.createCollection(target!.coll, options).catch(ignoreCode(NAMESPACE_EXISTS));
      ctx.knownTargets.add(targetNs);
      // Remembered with the copied ones, so status lists it and abort --drop-destination removes it.
      await ctx.store.migrations.updateOne(
        { _id: ctx.store.name, 'collections.target': { $ne: targetNs } },
        { $push: { collections: { source: ns(source.db, source.coll!), target: targetNs, kind: options.viewOn ? 'view' : 'collection', documentsTotal: 0, bytesTotal: 0, created: true, indexesBuilt: true } } },
      );
      return;
    }
    case 'createIndexes': {
      const indexes = ((description.indexes ?? []) as Document[]).filter((i) => i.name !== '_id_');
      const specs: Document[] = [];
      for (const index of indexes) specs.push(await relax(ctx, targetNs, index));
      if (specs.length) await db!.command({ createIndexes: target!.coll, indexes: specs });
      return;
    }
    case 'dropIndexes': {
      for (const index of (description.indexes ?? []) as Document[]) {
        await db!.command({ dropIndexes: target!.coll, index: index.name }).catch(ignoreCode(INDEX_NOT_FOUND, NAMESPACE_NOT_FOUND));
        await ctx.store.relaxedIndexes.deleteOne({ _id: { m: ctx.store.name, target: targetNs, name: String(index.name) } });
      }
      return;
    }
    case 'modify':
      await applyCollMod(ctx, target!, targetNs, description);
      return;
    case 'rename': {
      const to = event.to as { db: string; coll: string };
      const fromIncluded = ctx.filter.includes(source.db, source.coll!);
      const toIncluded = ctx.filter.includes(to.db, to.coll);
      if (fromIncluded && toIncluded) {
        const toTarget = ctx.filter.target(to.db, to.coll);
        await ctx.destination
          .db('admin')
          .command({ renameCollection: targetNs, to: ns(toTarget.db, toTarget.coll), dropTarget: Boolean(description.dropTarget) })
          .catch(ignoreCode(NAMESPACE_NOT_FOUND));
        await moveRelaxations(ctx, targetNs, ns(toTarget.db, toTarget.coll));
        await ctx.store.migrations.updateOne({ _id: ctx.store.name, 'collections.target': targetNs }, { $set: { 'collections.$.target': ns(toTarget.db, toTarget.coll), 'collections.$.source': ns(to.db, to.coll) } });
        ctx.knownTargets.delete(targetNs);
        ctx.knownTargets.add(ns(toTarget.db, toTarget.coll));
      } else if (fromIncluded) {
        // Renamed out of the migration's scope: it no longer belongs on the destination.
        await db!.collection(target!.coll).drop().catch(ignoreCode(NAMESPACE_NOT_FOUND));
        ctx.knownTargets.delete(targetNs);
      } else {
        throw new OperationError(
          `${ns(source.db, source.coll!)} was renamed to ${ns(to.db, to.coll)} on the source, moving a collection the migration did not copy into its scope`,
          'include the original namespace too and re-sync (abort --drop-destination, then sync)',
        );
      }
      return;
    }
    case 'drop':
      await db!.collection(target!.coll).drop().catch(ignoreCode(NAMESPACE_NOT_FOUND));
      await ctx.store.relaxedIndexes.deleteMany({ migration: ctx.store.name, target: targetNs });
      ctx.knownTargets.delete(targetNs);
      return;
    case 'dropDatabase':
      // Each collection drop precedes this event in the stream; nothing is left to do for included ones,
      // and the destination database may hold collections that are not the migration's to remove.
      return;
    default:
      throw new OperationError(`change event "${type}" on ${ns(source.db, source.coll ?? '')} cannot be mirrored by this version`, 'exclude that namespace, or re-sync after the operation');
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

/** Records and relaxes a unique or TTL index (see buildIndexes); returns the spec to create. */
export async function relax(ctx: Pick<DdlContext, 'store'>, targetNs: string, index: Document): Promise<Document> {
  const spec: Document = { ...index };
  delete spec.v;
  delete spec.ns;
  const relaxUnique = spec.unique === true;
  const relaxTtl = typeof spec.expireAfterSeconds === 'number';
  if (!relaxUnique && !relaxTtl) return spec;
  await ctx.store.relaxedIndexes.updateOne(
    { _id: { m: ctx.store.name, target: targetNs, name: String(spec.name) } },
    { $set: { migration: ctx.store.name, target: targetNs, name: String(spec.name), original: { ...spec }, restored: false } },
    { upsert: true, writeConcern: { w: 'majority' } },
  );
  if (relaxUnique) delete spec.unique;
  if (relaxTtl) spec.expireAfterSeconds = RELAXED_TTL_SECONDS;
  return spec;
}

async function applyCollMod(ctx: DdlContext, target: { db: string; coll: string }, targetNs: string, description: Document): Promise<void> {
  const command: Document = { collMod: target.coll };
  for (const [key, value] of Object.entries(description)) {
    if (key === 'index') {
      const index = value as Document;
      const relaxed = await ctx.store.relaxedIndexes.findOne({ _id: { m: ctx.store.name, target: targetNs, name: String(index.name) } });
      if (relaxed) {
        // The destination keeps the relaxed form until cutover; the change lands on the recorded original.
        const set: Document = {};
        for (const [k, v] of Object.entries(index)) if (k !== 'name' && k !== 'keyPattern') set[`original.${k}`] = v;
        await ctx.store.relaxedIndexes.updateOne({ _id: relaxed._id }, { $set: set });
        continue;
      }
      command.index = index;
    } else {
      command[key] = value;
    }
  }
  if (Object.keys(command).length > 1) await ctx.destination.db(target.db).command(command);
}
