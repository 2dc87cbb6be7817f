import type { Document, Timestamp } from 'mongodb';
import { errorMessage, OperationError } from '../errors.js';
import { Applier, type Checkpoint, type Prepared } from './apply/applier.js';
import { readView } from './apply/source-lookup.js';
import { readBatch } from './capture/batch-reader.js';
import { ReadAhead } from './capture/read-ahead.js';
import { BATCH_BYTES, mergeLookups } from './apply/current-documents.js';
import { historyLostError, sourceEventMatch, type Position } from './capture/change-stream.js';
import { RawChangeStream } from './capture/raw-change-stream.js';
import type { MigrationRun } from './run.js';
import { failpoint } from './failpoints.js';
import { appliedPosition, tokenTime } from './position.js';
import { PositionSaver, type Snapshot } from './position-saver.js';
import { StallWatch } from './stall-watch.js';
import { ReadHorizon } from './apply/read-horizon.js';
import { lastWriteTime } from '../mongo/introspection.js';
import { formatId, rawId } from '../mongo/raw-bson.js';
import { LeaseLostError } from './state/lease.js';
import { lagSample } from './state/store.js';

export interface TailOptions {
  /** Stop at this time (ms since epoch). */
  deadline: number;
  /** Stop once the stream is drained or the lag is at most this many seconds (end of sync's catch-up). */
  untilLagAtMost?: number;
  /** Stop once the stream is drained (cutover: everything up to the final time is applied). */
  untilDrained?: boolean;
  /** Changes on included namespaces after this time are stray writes (cutover without a write block). */
  strayAfter?: Timestamp;
  /** Called after each batch with the current lag. */
  onBatch?: (lagSeconds: number) => void;
  /** Apply nothing after this source time and stop there (a rehearsal's frozen point); the position is not saved past it. */
  stopAfter?: Timestamp;
  /** Checked after each batch: true ends the loop (the caller's own condition). */
  shouldStop?: () => boolean;
}

export interface TailResult {
  lagSeconds: number;
  caughtUp: boolean;
  applied: number;
  /** Updates applied from their own delta, and deltas that missed (document missing, statement refused), read back. */
  deltas: { applied: number; missed: number };
  /** Documents written several to a statement (deletes and updates of a batch job), and in how many statements. */
  grouped: { documents: number; statements: number };
  /** Namespaces written after `strayAfter`, if any. */
  strayWrites: string[];
}

const SAVE_IDLE_POSITION_MS = 5_000;
/**
 * What a batch is cut into: about this many write commands, and this many lookup queries at once. How many of
 * the write commands are in flight at once the applier finds by measuring, starting here (apply/writer-limit.ts).
 * Measured when each write waited for the destination's majority (one-member destination, 1000 upserts of ~250 B,
 * 3 secondary indexes): 500 x 2 in flight 3.6k/s, 125 x 8 5.8k/s, 100 x 16 5.4k/s.
 */
const APPLY_WRITERS = 8;
const SAMPLE_LAG_MS = 2_000;
/**
 * Reads of the stream held ahead of the writes at most, each looking its documents up with this share of the
 * lookups' memory (so all of them together hold no more than the one batch read ahead did before).
 */
const READS_AHEAD = 4;
/**
 * Bytes of events read ahead past which no read starts (one read may pass them; a read is ~4 MB of large events,
 * raw-change-stream.ts READ_BYTES). The tail holds about twice this, read ahead and being written: a burst of 16 KB
 * documents peaked at 229–267 MB of RSS (median 234) with 8 MB, 240–274 MB (median 254) with 16 MB
 * (bench/README.md, "Large documents"). Small events never reach it (2,500 of ~500 bytes is about 1.2 MB).
 */
const READ_AHEAD_BYTES = 8 * 1024 * 1024;

export function savedPosition(run: MigrationRun): Position {
  const applied = run.doc.applied;
  if (applied?.token) return { resumeAfter: applied.token };
  if (applied?.operationTime) return { startAtOperationTime: applied.operationTime };
  if (run.doc.captureStart) return { startAtOperationTime: run.doc.captureStart.operationTime };
  return { now: true };
}

/**
 * Applies live changes from the saved position, saving the position after every durable batch. Three stages
 * overlap: the stream is read and the documents of what was read looked up on the source (capture/read-ahead.ts)
 * while the current batch is written, and the position of the batch before is saved. Lag is the age of the
 * newest applied change while more are pending, and zero once the stream is drained.
 */
export async function tailLoop(run: MigrationRun, options: TailOptions): Promise<TailResult> {
  const stall = new StallWatch(run.ports.log, 'the tail');
  try {
    return await watchedTailLoop(run, options, stall);
  } finally {
    stall.stop();
  }
}

async function watchedTailLoop(run: MigrationRun, options: TailOptions, stall: StallWatch): Promise<TailResult> {
  const { store, ports } = run;
  stall.enter('reading the source time');
  const applier = newApplier(run, await openReadHorizon(run), options.stopAfter);
  let lagSeconds = run.doc.lagSeconds ?? 0;
  let observing: Promise<void> | undefined;
  // Every position is saved through applier.terms (see apply/write-terms.ts): the data was written with w: 1,
  // and the save is what makes it durable, or refuses when the destination's primary changed under it. The
  // writes a save covers are counted when terms.save is called, synchronously when the save starts; the open
  // documents and the lag it saves are those of its batch's end (the snapshot).
  const batchEnd = (): Snapshot => ({ unresolved: applier.unresolved.toState(), lagSeconds });
  let lastLagSample = 0;
  // A lag sample is due every few seconds. While changes are applied it rides with a position save (a majority
  // write of its own, awaited in the loop, held the next batch up); the loop records it only when idle.
  const lagSampleDue = (now: number): boolean => {
    if (now - lastLagSample <= SAMPLE_LAG_MS) return false;
    lastLagSample = now;
    return true;
  };
  const saver = new PositionSaver(async (token, wallTime, events, snapshot) => {
    const started = Date.now();
    const sample = lagSampleDue(started) ? lagSample(Number(snapshot.lagSeconds ?? 0)) : {};
    await applier.terms.save(store, ports.runner, { applied: appliedPosition(token, wallTime), ...snapshot }, { $inc: { eventsApplied: events }, $unset: { streamError: '' }, ...sample });
    ports.log.debug({ events, saveMs: Date.now() - started }, 'saved the position');
  });
  const checkpoint: Checkpoint = async (last, unresolved) => {
    await stall.in('checkpoint: queueing for recheck', observing);
    await stall.in('checkpoint: settling the position save', saver.settle());
    stall.enter('checkpoint: saving the position');
    await applier.terms.save(store, ports.runner, { applied: appliedPosition(last.token, last.wallTime), unresolved });
  };
  let stream: RawChangeStream | undefined;
  let caughtUp = false;
  const stray = new Set<string>();
  let reachedStop = false;
  let appliedToken: Document | undefined;
  let ahead: ReadAhead<Prepared> | undefined;
  try {
    stall.enter('opening the change stream');
    stream = await RawChangeStream.open(run.source, savedPosition(run), { batchSize: run.config.tail.batchSize, match: sourceEventMatch(run.filter) });
    const open = stream;
    // The stream is read, and the documents of what was read looked up on the source, while a batch is written;
    // each batch is everything read since the last (see capture/read-ahead.ts).
    ahead = new ReadAhead<Prepared>(
      (maxEvents) => readBatch(open, { batchSize: maxEvents, filter: run.filter, stopAfter: options.stopAfter }),
      (events) => applier.prepare(events, BATCH_BYTES / READS_AHEAD),
      mergeLookups,
      { events: run.config.tail.batchSize, reads: READS_AHEAD, bytes: READ_AHEAD_BYTES },
    );
    const reader = ahead;
    while (!ports.signal.aborted && Date.now() < options.deadline) {
      // A runner whose lease was taken over stops here, even while idle (the applier checks only with data).
      run.lease.assertHeld();
      saver.check();
      const read = await stall.in('reading the change stream', reader.take());
      const { events: batch, drained, lastWall, lastTime } = read;
      if (options.strayAfter) for (const event of batch) if (event.clusterTime.greaterThan(options.strayAfter)) stray.add(`${event.ns.db}.${event.ns.coll ?? '*'}`);
      if (batch.length) {
        const applyStarted = Date.now();
        // Queued for a recheck while it is applied, and before any position covering it is saved (the
        // checkpoints wait for it too): a crash re-queues, never loses.
        observing = run.changes?.observe(batch, applier.terms);
        observing?.catch(() => undefined);
        const prepared = await stall.in('looking documents up on the source', read.prepared);
        stall.enter('writing to the destination');
        await applier.apply(batch, checkpoint, prepared);
        await stall.in('queueing for recheck', observing);
        failpoint('tail:batch-applied');
        ports.log.debug({ applied: batch.length, drained, readMs: read.readMs, applyMs: Date.now() - applyStarted, lookupMs: read.preparedMs(), writers: applier.writers.current(), deltas: applier.deltas.applied, deltasMissed: applier.deltas.missed, grouped: applier.grouped.documents }, 'applied change events');
      }
      appliedToken = read.token ?? appliedToken;
      if (read.reachedStop) {
        reachedStop = true;
        caughtUp = true;
        break;
      }
      const token = read.token;
      const now = Date.now();
      lagSeconds = drained ? 0 : lastWall ? Math.max(0, (now - lastWall.getTime()) / 1000) : lagSeconds;
      caughtUp = drained;
      saver.applied(batch.length, lastWall);
      // Saved after every batch, in the background while the next one is written (see PositionSaver); an idle
      // stream's position every few seconds, so it stays within the source's oplog.
      const idleDue = (lastTime !== undefined || drained) && now - saver.lastStarted > SAVE_IDLE_POSITION_MS;
      if (token && (saver.pending > 0 || idleDue)) saver.start(token, batchEnd());
      else if (lagSampleDue(now)) await stall.in('recording the lag', store.recordLag(ports.runner, lagSeconds));
      options.onBatch?.(lagSeconds);
      if (options.shouldStop?.()) break;
      if (options.untilDrained && drained) {
        assertSettled(applier, run, token);
        caughtUp = true;
        break;
      }
      if (options.untilLagAtMost !== undefined && (drained || lagSeconds <= options.untilLagAtMost)) {
        caughtUp = true;
        break;
      }
    }
  } catch (error) {
    // A save still running would clear the error recorded below.
    await stall.in('failing: the position save', saver.settle().catch(() => undefined));
    stall.enter('failing: recording the error');
    const lost = historyLostError(run.config.name, error);
    if (lost) {
      await store.update(ports.runner, { resyncRequired: true, error: lost.message, phase: 'failed' }).catch(() => undefined);
      throw lost;
    }
    // A stream that fails is never "caught up": the lag is unknown until a slice gets past the failure.
    await store.update(ports.runner, { lagSeconds: null, streamError: `${errorMessage(error)}`.slice(0, 500) }).catch(() => undefined);
    throw error;
  } finally {
    // A read in flight holds the stream (and what was read may be looking documents up): let them end, then close.
    const lookups = (await stall.in('ending: the batch read ahead', ahead?.stop().catch(() => undefined))) ?? [];
    await stall.in('ending: the position save', saver.settle().catch(() => undefined));
    await stall.in('ending: the lookups read ahead', Promise.all(lookups.map((prepared) => prepared.catch(() => undefined))));
    await stall.in('ending: closing the change stream', stream?.close().catch(() => undefined));
    stall.enter('ending: the final save');
  }
  // Persist the final position (the loop may have ended between saves): what was applied, not what was read
  // ahead, and never one past a stop point.
  await saver.settle();
  if (appliedToken && !reachedStop) {
    saver.start(appliedToken, batchEnd());
    await saver.settle();
  } else {
    // No position past a stop point, but what was written before it is made durable (or refused) all the same.
    await applier.terms.save(store, ports.runner, { lagSeconds });
  }
  stall.enter('ending: reading the state');
  run.doc = await store.current();
  return { lagSeconds, caughtUp, applied: applier.applied, deltas: { ...applier.deltas }, grouped: { ...applier.grouped }, strayWrites: [...stray] };
}

/**
 * The read horizon this run starts from (see apply/read-horizon.ts). A migration whose document has none (its copy
 * ran before the horizon was kept) starts at the source's present: every read before it is older.
 */
export async function openReadHorizon(run: MigrationRun): Promise<ReadHorizon> {
  let start = run.doc.readHorizon;
  const persist = async (time: Timestamp): Promise<void> => {
    if (!(await run.store.raiseReadHorizon(run.ports.runner, time))) throw new LeaseLostError(run.config.name);
  };
  if (!start) {
    start = await lastWriteTime(run.source, 'majority');
    await persist(start);
  }
  return new ReadHorizon(start, persist);
}

/**
 * `replay`: the applier replays what the copy overlapped. Its updates never apply their delta (the horizon set when
 * the copy ended is later than all of them anyway), and its inserts go as puts: their documents are mostly ones the
 * copy already read, where an insert would be refused and put anyway.
 */
export function newApplier(run: MigrationRun, horizon: ReadHorizon, stopAfter?: Timestamp, replay = false): Applier {
  return new Applier({
    source: readView(run.source, stopAfter),
    destination: run.destination,
    filter: run.filter,
    store: run.store,
    log: run.ports.log,
    concurrency: Math.max(APPLY_WRITERS, run.config.sync.parallelCollections),
    assertLease: () => run.lease.assertHeld(),
    unresolved: run.doc.unresolved ?? [],
    horizon,
    deltas: !replay,
    inserts: !replay,
  });
}

/**
 * Drained to the end means every update's document is known: one still open would be a document whose last
 * state the destination does not have. The events that settle it precede the end of the stream, so this is
 * a defect to report, never a state to commit.
 */
function assertSettled(applier: Applier, run: MigrationRun, streamAt: Document | undefined): void {
  const open = applier.unresolved.toState();
  if (!open.length) return;
  // Document keys at debug level only (they are the user's data): what a report of this defect needs.
  run.ports.log.debug({ open: open.slice(0, 20).map((o) => `${o.db}.${o.coll} ${formatId(rawId(o.key)?.value)}`), streamAt: tokenTime(streamAt)?.toString() }, 'updated documents still open at the end of the stream');
  const where = [...new Set(open.map((o) => `${o.db}.${o.coll}`))].join(', ');
  throw new OperationError(
    `${open.length} updated document(s) in ${where} could not be read back from the source and no later change explains why`,
    'run `tail` again; if this persists, run `verify` and report it with the namespaces above',
  );
}
