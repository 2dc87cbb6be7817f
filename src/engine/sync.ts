import type { Document, Timestamp } from 'mongodb';
import { OperationError, UserError } from '../errors.js';
import { Applier, runLimited } from './apply/applier.js';
import { BufferWriter } from './capture/buffer-writer.js';
import { historyLostError, openChangeStream } from './capture/change-stream.js';
import { readCatalog, type SourceCollection } from './catalog.js';
import { EXACT_TYPES, copyPartition } from './copy/copy-partition.js';
import { buildIndexes, createTarget } from './copy/create-target.js';
import { planPartitions } from './copy/partitions.js';
import { buildProgress } from './progress.js';
import { transition, type MigrationRun } from './run.js';
import { LeaseLostError } from './state/lease.js';
import type { PartitionDoc } from './state/types.js';
import { tailLoop } from './tail.js';

const REPLAY_BATCH = 1000;
const PROGRESS_EVERY_MS = 1000;

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

  if (!run.doc.captureStart) {
    // Fix the capture point before reading anything: every change after it will be captured.
    const hello = await run.source.db('admin').command({ hello: 1 });
    const operationTime = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
    run.lease.assertHeld();
    await run.store.update(run.ports.runner, { captureStart: { operationTime, at: new Date() } });
    run.doc = (await run.store.get())!;
  }

  const copied = run.doc.copy.finishedAt ? undefined : await copyPhase(run).catch((error: unknown) => markIfHistoryLost(run, error));
  if (run.ports.signal.aborted) return { finished: false, lagSeconds: run.doc.lagSeconds };
  if (copied === false) return { finished: false, lagSeconds: run.doc.lagSeconds };

  await replayPhase(run);
  if (run.ports.signal.aborted) return { finished: false, lagSeconds: run.doc.lagSeconds };
  await transition(run, 'syncing', 'catching up', { step: 'catch-up' });
  run.ports.log.info('catching up with live changes');
  const result = await tailLoop(run, { deadline: Date.now() + run.config.tail.maxDurationMs, untilLagAtMost: run.config.cutover.maxLagSeconds });
  if (!result.caughtUp) return { finished: false, lagSeconds: result.lagSeconds };
  // Phase and step change in one write: a crash in between left "tailing/catch-up" behind.
  run.lease.assertHeld();
  const entry = { phase: 'tailing' as const, at: new Date(), runner: run.ports.runner, note: 'copy done and caught up' };
  const moved = await run.store.update(run.ports.runner, { phase: 'tailing', lagSeconds: result.lagSeconds }, { $push: { history: entry }, $unset: { step: '' } });
  if (!moved) throw new LeaseLostError(run.store.name);
  run.doc = (await run.store.get())!;
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

/** Copy with capture running; false when interrupted. */
async function copyPhase(run: MigrationRun): Promise<boolean> {
  const { store, ports, config } = run;
  const catalog = await readCatalog(run.source, run.filter);
  if (!run.doc.collections.length) {
    await store.update(ports.runner, {
      collections: catalog.map((c) => ({ source: `${c.db}.${c.coll}`, target: `${c.target.db}.${c.target.coll}`, kind: c.kind, documentsTotal: c.documents, bytesTotal: c.bytes, created: false, indexesBuilt: false })),
      'copy.startedAt': new Date(),
    });
    run.doc = (await store.get())!;
  }
  const planned = new Map(run.doc.collections.map((c) => [c.source, c]));
  const current = catalog.filter((c) => planned.has(`${c.db}.${c.coll}`));

  // Buffer changes from the capture point (or after the last buffered one) while copying.
  const end = await store.bufferEnd();
  const stream = openChangeStream(run.source, end ? { resumeAfter: end.token } : { startAtOperationTime: run.doc.captureStart!.operationTime }, 1000);
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
      const plan = planned.get(`${collection.db}.${collection.coll}`)!;
      if (plan.created) continue;
      await assertNoConflict(run, collection);
      await createTarget(run.destination, collection, run.filter, config.sync.dropDestination, store);
      await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].created': true } }, { arrayFilters: [{ 'c.source': plan.source }], writeConcern: { w: 'majority' } });
    }
    partitions = await store.partitionsOf();
    for (const collection of current) {
      const source = `${collection.db}.${collection.coll}`;
      const plan = run.doc.collections.find((c) => c.source === source)!;
      if (collection.kind === 'view' || plan.partitioned) continue;
      const existing = partitions.filter((p) => p.source === source);
      // Migrations from before the flag: partitions with progress are the plan (copying starts only after
      // every collection is planned, so a half-recorded plan never has any).
      if (existing.some((p) => p.done || p.documentsCopied > 0)) continue;
      await planCollection(run, collection, existing.length > 0);
    }
    partitions = await store.partitionsOf();
    ports.log.info({ collections: current.length, partitions: partitions.length, remaining: partitions.filter((p) => !p.done).length }, 'copying');
    const byName = new Map(current.map((c) => [`${c.db}.${c.coll}`, c]));
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
      await copyPartition(ctx, byName.get(p.source)!, p);
      ports.log.debug({ partition: p._id, documents: p.documentsCopied }, 'partition copied');
    });
    await runLimited(jobs, config.sync.parallelCollections);
    await writer.check();
    if (ports.signal.aborted) return false;
    // Index builds of different collections run at once: one build scans and sorts on one server thread, and
    // while they run nothing else keeps the destination's other cores busy.
    const indexJobs = current.map((collection) => async () => {
      const plan = run.doc.collections.find((c) => c.source === `${collection.db}.${collection.coll}`)!;
      if (plan.indexesBuilt || collection.kind === 'view') return;
      await buildIndexes(run.destination, collection, store);
      await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].indexesBuilt': true } }, { arrayFilters: [{ 'c.source': plan.source }], writeConcern: { w: 'majority' } });
    });
    await runLimited(indexJobs, config.sync.parallelCollections);
    await writer.stop();
    ports.log.info({ partitions: partitions.length, captured: writer.captured }, 'copy finished; indexes built');
    run.lease.assertHeld();
    await store.update(ports.runner, { 'copy.finishedAt': new Date(), step: 'replay' });
    run.doc = (await store.get())!;
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
async function planCollection(run: MigrationRun, collection: SourceCollection, dropPartial: boolean): Promise<void> {
  const { store, config, ports } = run;
  const source = `${collection.db}.${collection.coll}`;
  if (dropPartial) await store.partitions.deleteMany({ migration: store.name, source }, { writeConcern: { w: 'majority' } });
  const partitions = await planPartitions(run.source, collection, { migration: store.name, partitionSizeBytes: config.sync.partitionSizeMB * 1024 * 1024 });
  run.lease.assertHeld();
  if (partitions.length) await store.partitions.insertMany(partitions, { writeConcern: { w: 'majority' } });
  const flagged = await store.migrations.updateOne({ _id: store.name, 'lease.owner': ports.runner }, { $set: { 'collections.$[c].partitioned': true } }, { arrayFilters: [{ 'c.source': source }], writeConcern: { w: 'majority' } });
  if (flagged.matchedCount === 0) throw new LeaseLostError(store.name);
  run.doc = (await store.get())!;
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

/**
 * Applies the buffered changes in capture order from the saved replay point. The copy is done and capture
 * stopped, so the buffer is complete; its last event is where live tailing resumes.
 */
async function replayPhase(run: MigrationRun): Promise<void> {
  const { store, ports } = run;
  const applier = new Applier({ source: run.source, destination: run.destination, filter: run.filter, store, log: ports.log, concurrency: Math.max(2, run.config.sync.parallelCollections), assertLease: () => run.lease.assertHeld() });
  let nextSeq = run.doc.replay.nextSeq;
  const firstSeq = nextSeq;
  const partitions = await store.partitionsOf();
  for (;;) {
    if (ports.signal.aborted) return;
    const batch = await store.buffer
      .find({ '_id.m': store.name, '_id.seq': { $gte: nextSeq } }, EXACT_TYPES)
      .sort({ '_id.m': 1, '_id.seq': 1 })
      .limit(REPLAY_BATCH)
      .toArray();
    if (!batch.length) break;
    await applier.apply(batch.map((b) => b.event as Document));
    const last = batch[batch.length - 1]!;
    nextSeq = last._id.seq + 1;
    run.lease.assertHeld();
    const saved = await store.update(ports.runner, { 'replay.nextSeq': nextSeq, applied: { token: last.token, wallTime: (last.event as Document).wallTime } }, { $inc: { eventsApplied: batch.length } });
    // Conditional on the lease: not saved means another runner took the migration over; stop writing.
    if (!saved) throw new LeaseLostError(store.name);
    run.doc = (await store.get())!;
    ports.onProgress?.(buildProgress(run.doc, partitions));
  }
  if (!run.doc.applied) {
    // Nothing was captured during the copy: live changes start at the capture point.
    await store.update(ports.runner, { applied: { operationTime: run.doc.captureStart!.operationTime } });
  }
  ports.log.info({ replayed: nextSeq - firstSeq }, 'replay finished');
  await store.update(ports.runner, { 'replay.finishedAt': new Date() });
  await store.buffer.deleteMany({ '_id.m': store.name, '_id.seq': { $lt: nextSeq } });
  run.doc = (await store.get())!;
}
