import { setTimeout as sleep } from 'node:timers/promises';
import type { Timestamp } from 'mongodb';
import { OperationError, UserError } from '../errors.js';
import { runLimited } from './apply/run-limited.js';
import { BufferWriter } from './capture/buffer-writer.js';
import { historyLostError, isRelevant, sourceEventMatch } from './capture/change-stream.js';
import { RawChangeStream } from './capture/raw-change-stream.js';
import { readCatalog, type SourceCollection } from './catalog.js';
import { copyPartition } from './copy/copy-partition.js';
import { locateDurably, relocate } from './copy/source-location.js';
import { planPartitions, type PartitionOptions } from './copy/partitions.js';
import { lastWriteTime, primaryOplogCommands } from '../mongo/introspection.js';
import { isCatalogRace } from '../mongo/server-errors.js';
import { pausePoint } from './failpoints.js';
import { tokenTime } from './position.js';
import { splitNamespace, SYSTEM_DBS } from '../namespaces.js';
import { buildProgress } from './progress.js';
import { replayBuffer } from './replay.js';
import { transition, type MigrationRun } from './run.js';
import { LeaseLostError } from './state/lease.js';
import type { CollectionPlan, PartitionDoc } from './state/types.js';
import { tailLoop } from './tail.js';
import { ContinuousVerifier } from './verify/continuous/verifier.js';
import { buildTargetIndexes, createTargetCollection, dropTarget } from './target-catalog.js';

const PROGRESS_EVERY_MS = 1000;
/** Plans cut short by a rename before the copy gives up (the source's collections keep being renamed). */
const PLAN_ATTEMPTS = 20;

export interface SyncResult {
  /** False when the run was interrupted (signal) before reaching the tailing phase. */
  finished: boolean;
  lagSeconds: number | null;
}

/**
 * sync: capture from a fixed point, copy every partition, build relaxed indexes, replay what was captured,
 * then apply live changes until caught up (phase tailing). Every step resumes from the state store.
 */
export async function runSyncEngine(run: MigrationRun): Promise<SyncResult> {
  const { doc } = run;
  if (doc.resyncRequired) throw new OperationError(doc.error ?? 'this migration lost its position in the source oplog and needs a re-sync', `re-sync: run \`abort --drop-destination --confirm ${doc._id}\`, then \`sync\` (a new sync of a dropped destination)`);
  if (doc.phase === 'committed' || doc.phase === 'aborted') throw new UserError(`migration "${doc._id}" is ${doc.phase}; nothing to sync`, 'use a new migration name to migrate again');
  if (doc.phase === 'cutting-over') throw new UserError(`migration "${doc._id}" is cutting over`, 'run `cutover --confirm ' + doc._id + '` again to finish it, or `abort`');
  if (doc.phase === 'tailing') return { finished: true, lagSeconds: doc.lagSeconds };
  if (doc.phase !== 'syncing') await transition(run, 'syncing', undefined, { step: 'copy' });

  // Fix the capture point before reading anything: every change after it will be captured.
  if (!run.doc.captureStart) await fixCapturePoint(run);

  const copied = run.doc.copy.finishedAt ? undefined : await copyPhase(run).catch((error: unknown) => markIfHistoryLost(run, error));
  if (run.ports.signal.aborted) return { finished: false, lagSeconds: run.doc.lagSeconds };
  if (copied === false) return { finished: false, lagSeconds: run.doc.lagSeconds };

  await replayBuffer(run);
  if (run.ports.signal.aborted) return { finished: false, lagSeconds: run.doc.lagSeconds };
  await transition(run, 'syncing', 'catching up', { step: 'catch-up' });
  run.ports.log.info('catching up with live changes');
  // Continuous verification starts with the catch-up: the copy and the replay are done, the sides converge.
  // Throttled by the catch-up's lag like the tail's (unknown, so paused, until the first batch says).
  let lag = Infinity;
  const verifier = run.config.cutover.verify === 'hash' ? ContinuousVerifier.start(run, { lag: () => lag, pauseAboveLagSeconds: run.config.cutover.maxLagSeconds / 2 }) : undefined;
  const result = await tailLoop(run, { deadline: Date.now() + run.config.tail.maxDurationMs, untilLagAtMost: run.config.cutover.maxLagSeconds, onBatch: (seconds) => (lag = seconds) }).finally(() => verifier?.stop());
  if (!result.caughtUp) return { finished: false, lagSeconds: result.lagSeconds };
  // Phase and step change in one write: a crash in between left "tailing/catch-up" behind.
  run.lease.assertHeld();
  const entry = { phase: 'tailing' as const, at: new Date(), runner: run.ports.runner, note: 'copy done and caught up' };
  const moved = await run.store.update(run.ports.runner, { phase: 'tailing', lagSeconds: result.lagSeconds }, { $push: { history: entry }, $unset: { step: '' } });
  if (!moved) throw new LeaseLostError(run.store.name);
  run.doc = await run.store.current();
  return { finished: true, lagSeconds: result.lagSeconds };
}

/**
 * The capture stream resumes from the capture point or the last buffered event; when that has left the
 * source oplog (a sync resumed long after it stopped), changes are gone: record that a re-sync is needed.
 */
async function markIfHistoryLost(run: MigrationRun, error: unknown): Promise<never> {
  const lost = historyLostError(run.config.name, error);
  if (!lost) throw error;
  await run.store.update(run.ports.runner, { resyncRequired: true, error: lost.message, phase: 'failed' }).catch(() => undefined);
  throw lost;
}

/**
 * The capture point is the majority point, not the last write: the copy reads majority-committed data, so a
 * capture point ahead of it would leave writes in between to neither side (and a w:1 write past it may yet
 * be rolled back).
 */
async function fixCapturePoint(run: MigrationRun): Promise<void> {
  const operationTime = await lastWriteTime(run.source, 'majority');
  run.lease.assertHeld();
  run.doc = await run.store.write(run.ports.runner, { captureStart: { operationTime, at: new Date() } });
}

/**
 * Reads the catalog the copy plans from, and makes it agree with the capture point: replay applies the
 * captured DDL to targets named by this plan, so no rename may fall between the two (one would be applied
 * twice: once by the plan's new name, once by replay). Creates, drops and index changes are idempotent
 * against a plan that already shows them. When a rename did fall there, the capture point moves to now and
 * the catalog is read again.
 *
 * The catalog shows what the primary has applied; the change stream hands out only what a majority holds. A
 * rename the catalog shows may therefore not be in the stream yet: what lies between the majority point and the
 * primary's last write is read from the primary's oplog instead (a source whose secondaries lag must not stop
 * the plan, and one that fell behind by a rename must not slip through it). A drop there is planned again too:
 * a failover could roll it back, and a collection left out of the plan would then never be copied.
 */
async function planCatalog(run: MigrationRun): Promise<SourceCollection[]> {
  for (let attempt = 1; ; attempt++) {
    await pausePoint('plan-catalog');
    const catalog = await readCatalog(run.source, run.filter);
    // In this order: a rename the catalog shows is at or before `seen`; the stream is read up to `majority`.
    const seen = await lastWriteTime(run.source, 'applied');
    const majority = await lastWriteTime(run.source, 'majority');
    const since = run.doc.captureStart!.operationTime;
    if (!(await renamedInStream(run, since, majority)) && !(await removedInOplog(run, majority.greaterThan(since) ? majority : since, seen))) return catalog;
    if (attempt >= PLAN_ATTEMPTS) {
      throw new OperationError(
        `collections of the migration kept being renamed on the source while the copy was being planned (${PLAN_ATTEMPTS} attempts), or a rename or drop stayed on the primary alone (the copy plans only from what a majority holds)`,
        "run `sync` again once the renames settle and the source's secondaries have caught up (rs.status()); nothing was copied yet",
      );
    }
    run.ports.log.info({ attempt }, 'a collection was renamed (or dropped on the primary alone) on the source while planning the copy: planning again from a new capture point');
    await sleep(Math.min(2000, 100 * attempt));
    await fixCapturePoint(run);
  }
}

/** How long the rename check may take to read the stream up to a majority point it already knows. */
const STREAM_CHECK_MS = 60_000;

/** Whether the change stream shows a rename concerning the migration after `since`, read up to `until` at least. */
async function renamedInStream(run: MigrationRun, since: Timestamp, until: Timestamp): Promise<boolean> {
  const stream = await RawChangeStream.open(run.source, { startAtOperationTime: since }, { batchSize: 1000, match: { $and: [{ operationType: 'rename' }, sourceEventMatch(run.filter) ?? {}] } });
  const deadline = Date.now() + STREAM_CHECK_MS;
  try {
    for (;;) {
      const event = await stream.tryNext();
      if (event) {
        // startAtOperationTime includes the capture point itself, which the catalog already reflects.
        if (event.clusterTime.greaterThan(since) && isRelevant(event, run.filter)) return true;
        continue;
      }
      const reached = tokenTime(stream.resumeToken);
      if (reached && reached.greaterThanOrEqual(until)) return false;
      if (Date.now() > deadline) {
        throw new OperationError(`the source's change stream did not reach its own majority point within ${STREAM_CHECK_MS / 1000} s while the copy was planned`, 'run `sync` again; nothing was copied yet');
      }
    }
  } finally {
    await stream.close().catch(() => undefined);
  }
}

/**
 * Whether the primary's oplog holds a rename or a drop concerning the migration in (after, upTo]: writes it has
 * applied and a majority does not hold yet (needs find on local.oplog.rs, which validate checks). A rename across
 * databases is logged as a rename of a temporary collection into the new name, so either side counts.
 */
async function removedInOplog(run: MigrationRun, after: Timestamp, upTo: Timestamp): Promise<boolean> {
  if (!upTo.greaterThan(after)) return false;
  const entries = primaryOplogCommands(run.source, after, upTo, { $or: [{ 'o.renameCollection': { $exists: true } }, { 'o.drop': { $exists: true } }, { 'o.dropDatabase': { $exists: true } }] });
  const included = (db: string): boolean => !SYSTEM_DBS.has(db) && run.filter.mayIncludeDatabase(db);
  const concerns = (name: unknown, temporary: boolean): boolean => {
    if (typeof name !== 'string') return false;
    const { db, coll } = splitNamespace(name);
    return included(db) && ((temporary && coll.startsWith('tmp')) || run.filter.includes(db, coll));
  };
  for await (const { ns, o } of entries) {
    const db = splitNamespace(ns).db;
    if (o.dropDatabase !== undefined && included(db)) return true;
    if (o.drop !== undefined && concerns(`${db}.${String(o.drop)}`, false)) return true;
    if (concerns(o.renameCollection, true) || concerns(o.to, true)) return true;
  }
  return false;
}

/** Copy with capture running; false when interrupted. */
async function copyPhase(run: MigrationRun): Promise<boolean> {
  const { store, ports, config } = run;
  let catalog: SourceCollection[] | undefined;
  if (!run.doc.collections.length) {
    catalog = await planCatalog(run);
    run.doc = await store.write(ports.runner, {
      collections: catalog.map((c) => ({ source: `${c.db}.${c.coll}`, ...(c.uuid ? { uuid: c.uuid } : {}), target: `${c.target.db}.${c.target.coll}`, kind: c.kind, documentsTotal: c.documents, bytesTotal: c.bytes, created: false, indexesBuilt: false })),
      'copy.startedAt': new Date(),
    });
  }
  const located = await locateDurably(run, run.doc.collections, catalog);
  const current = [...located.values()].filter((c): c is SourceCollection => c !== undefined);
  const planOf = (collection: SourceCollection): CollectionPlan => run.doc.collections.find((c) => c.target === `${collection.target.db}.${collection.target.coll}`)!;

  // Buffer changes from the capture point (or after the last buffered one) while copying.
  const end = await store.bufferEnd();
  const stream = await RawChangeStream.open(run.source, end ? { resumeAfter: end.token } : { startAtOperationTime: run.doc.captureStart!.operationTime }, { batchSize: 1000, match: sourceEventMatch(run.filter) });
  const writer = new BufferWriter(store, stream, run.filter, ports.log, () => run.lease.assertHeld(), end ? end._id.seq + 1 : 0);
  writer.start();
  let partitions: PartitionDoc[] = [];
  const copyStarted = Date.now();
  let bytesAtStart: number | undefined;
  const progressTimer = setInterval(() => {
    const progress = buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds });
    // ETA from this run's own byte rate (a resumed run does not count what earlier runs copied).
    bytesAtStart ??= progress.totals.bytesCopied;
    const rate = (progress.totals.bytesCopied - bytesAtStart) / Math.max(1, (Date.now() - copyStarted) / 1000);
    const remaining = Math.max(0, progress.totals.bytesTotal - progress.totals.bytesCopied);
    ports.onProgress?.({ ...progress, etaSeconds: rate > 0 ? remaining / rate : null });
  }, PROGRESS_EVERY_MS);
  try {
    // Targets are created one at a time, before any parallel write (never race a namespace's creation).
    for (const collection of current) {
      const plan = planOf(collection);
      if (plan.created) continue;
      await assertNoConflict(run, collection);
      if (config.sync.dropDestination) await dropTarget(run.destination, collection.target);
      await createTargetCollection({ destination: run.destination, filter: run.filter, store }, collection.db, collection.target, collection.options);
      await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].created': true } }, { arrayFilters: [{ 'c.source': plan.source }], writeConcern: { w: 'majority' } });
    }
    partitions = await store.partitionsOf();
    for (const collection of current) {
      const plan = planOf(collection);
      if (collection.kind === 'view' || plan.partitioned) continue;
      const existing = partitions.filter((p) => p.source === plan.source);
      // Migrations from before the flag: partitions with progress are the plan (copying starts only after
      // every collection is planned, so a half-recorded plan never has any).
      if (existing.some((p) => p.done || p.documentsCopied > 0)) continue;
      await planCollection(run, collection, plan.source, existing.length > 0);
    }
    partitions = await store.partitionsOf();
    ports.log.info({ collections: current.length, partitions: partitions.length, remaining: partitions.filter((p) => !p.done).length }, 'copying');
    const ctx = {
      source: run.source,
      destination: run.destination,
      store,
      batchSize: config.sync.batchSize,
      signal: ports.signal,
      assertLease: () => run.lease.assertHeld(),
      onBatch: () => undefined,
    };
    const jobs = partitions.filter((p) => !p.done).map((p) => async () => {
      await writer.check();
      ports.log.debug({ partition: p._id }, 'copying partition');
      const planned = located.get(p.source);
      const from = planned && (await relocate(run, planned));
      // Gone from the source since it was planned: nothing to copy, and replay applies its drop.
      if (!from) return void (await store.partitions.updateOne({ _id: p._id }, { $set: { done: true } }, { writeConcern: { w: 'majority' } }));
      await copyPartition({ ...ctx, relocate: (c) => relocate(run, c) }, from, p);
      ports.log.debug({ partition: p._id, documents: p.documentsCopied }, 'partition copied');
    });
    await runLimited(jobs, config.sync.parallelCollections);
    await writer.check();
    if (ports.signal.aborted) return false;
    // Index builds of different collections run at once: one build scans and sorts on one server thread, and
    // while they run nothing else keeps the destination's other cores busy.
    const indexJobs = current.map((collection) => async () => {
      const plan = planOf(collection);
      if (plan.indexesBuilt || collection.kind === 'view') return;
      await buildTargetIndexes({ destination: run.destination, store }, collection.target, collection.indexes);
      await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].indexesBuilt': true } }, { arrayFilters: [{ 'c.source': plan.source }], writeConcern: { w: 'majority' } });
    });
    await runLimited(indexJobs, config.sync.parallelCollections);
    await writer.stop();
    ports.log.info({ partitions: partitions.length, captured: writer.captured }, 'copy finished; indexes built');
    run.lease.assertHeld();
    // Every copied document was read before this time: update deltas after it may apply (see apply/read-horizon.ts).
    const copiedBefore = await lastWriteTime(run.source, 'majority');
    run.doc = await store.write(ports.runner, { 'copy.finishedAt': new Date(), step: 'replay' }, { $max: { readHorizon: copiedBefore } });
    ports.onProgress?.(buildProgress(run.doc, await store.partitionsOf(), { maxLagSeconds: config.cutover.maxLagSeconds }));
    return true;
  } finally {
    clearInterval(progressTimer);
    await writer.stop().catch(() => undefined);
    await stream.close().catch(() => undefined);
  }
}

/**
 * Records a collection's partitions, then flags the collection as partitioned. A runner killed in between
 * leaves partitions without the flag: the rerun drops them and plans again, so no collection is ever left
 * with part of its ranges (and the rest of its documents uncopied). No transaction: one a SIGKILLed runner
 * leaves open holds its locks on the state collections for a minute.
 */
async function planCollection(run: MigrationRun, collection: SourceCollection, source: string, dropPartial: boolean): Promise<void> {
  const { store, config, ports } = run;
  if (dropPartial) await store.partitions.deleteMany({ migration: store.name, source }, { writeConcern: { w: 'majority' } });
  await pausePoint('copy:plan-partitions');
  const partitions = await planWhereItIs(run, collection, { migration: store.name, source, partitionSizeBytes: config.sync.partitionSizeMB * 1024 * 1024 });
  run.lease.assertHeld();
  if (partitions.length) await store.partitions.insertMany(partitions, { writeConcern: { w: 'majority' } });
  const flagged = await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].partitioned': true } }, { arrayFilters: [{ 'c.source': source }], writeConcern: { w: 'majority' } });
  if (flagged.matchedCount === 0) throw new LeaseLostError(store.name);
  run.doc = await store.current();
}

/** Attempts at planning a collection that keeps being renamed while its _id classes are read. */
const PLAN_PARTITION_ATTEMPTS = 5;

/**
 * The collection's partitions, read where it lives now: planPartitions reads it by UUID and fails when its name
 * was taken over or freed since it was located; it is then found again by UUID. None once it is gone for good:
 * nothing to copy, and replay applies its removal (as for a partition whose collection went, see copyPhase).
 */
async function planWhereItIs(run: MigrationRun, collection: SourceCollection, options: PartitionOptions): Promise<PartitionDoc[]> {
  let from: SourceCollection | undefined = collection;
  for (let attempt = 1; from; attempt++) {
    try {
      return await planPartitions(run.source, from, options);
    } catch (error) {
      if (!isCatalogRace(error) || attempt >= PLAN_PARTITION_ATTEMPTS) throw error;
    }
    from = await relocate(run, collection);
  }
  return [];
}

async function assertNoConflict(run: MigrationRun, collection: SourceCollection): Promise<void> {
  if (run.config.sync.dropDestination || collection.kind === 'view') return;
  const target = run.destination.db(collection.target.db).collection(collection.target.coll);
  const existing = await run.destination.db(collection.target.db).listCollections({ name: collection.target.coll }, { nameOnly: true }).toArray();
  if (existing.length && (await target.estimatedDocumentCount()) > 0) {
    throw new OperationError(
      `destination collection ${collection.target.db}.${collection.target.coll} already holds documents`,
      'empty it, rename the target (namespaces.rename), or set sync.dropDestination: true to drop it first',
    );
  }
}
