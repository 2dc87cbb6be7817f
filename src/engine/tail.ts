import type { Document, Timestamp } from 'mongodb';
import { OperationError } from '../errors.js';
import { Applier, type Checkpoint } from './apply/applier.js';
import type { ChangeEvent } from './capture/change-event.js';
import { historyLostError, isRelevant, type Position } from './capture/change-stream.js';
import { RawChangeStream } from './capture/raw-change-stream.js';
import type { MigrationRun } from './run.js';
import { failpoint } from './failpoints.js';
import { appliedPosition } from './position.js';
import { LeaseLostError } from './state/lease.js';

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
  /** Namespaces written after `strayAfter`, if any. */
  strayWrites: string[];
}

const SAVE_IDLE_POSITION_MS = 5_000;
const SAMPLE_LAG_MS = 2_000;

export function savedPosition(run: MigrationRun): Position {
  const applied = run.doc.applied;
  if (applied?.token) return { resumeAfter: applied.token };
  if (applied?.operationTime) return { startAtOperationTime: applied.operationTime };
  if (run.doc.captureStart) return { startAtOperationTime: run.doc.captureStart.operationTime };
  return { now: true };
}

/**
 * Applies live changes from the saved position, saving the position after every durable batch. Lag is the
 * age of the newest applied change while more are pending, and zero once the stream is drained.
 */
export async function tailLoop(run: MigrationRun, options: TailOptions): Promise<TailResult> {
  const { store, ports } = run;
  const applier = newApplier(run);
  const checkpoint: Checkpoint = async (last, unresolved) => {
    const saved = await store.update(ports.runner, { applied: appliedPosition(last.token, last.wallTime), unresolved });
    if (!saved) throw new LeaseLostError(store.name);
  };
  let stream: RawChangeStream | undefined;
  let lagSeconds = run.doc.lagSeconds ?? 0;
  let caughtUp = false;
  let lastSave = 0;
  let lastLagSample = 0;
  const stray = new Set<string>();
  let reachedStop = false;
  try {
    stream = await RawChangeStream.open(run.source, savedPosition(run), { batchSize: run.config.tail.batchSize });
    while (!ports.signal.aborted && Date.now() < options.deadline) {
      // A runner whose lease was taken over stops here, even while idle (the applier checks only with data).
      run.lease.assertHeld();
      const batch: ChangeEvent[] = [];
      const readStarted = Date.now();
      let drained = false;
      let lastWall: Date | undefined;
      let lastTime: Timestamp | undefined;
      while (batch.length < run.config.tail.batchSize) {
        // Apply what has arrived rather than wait for more: under a steady load every getMore returns a few
        // events, so filling a whole batch took seconds of lag (bench/: p50 3.2 s → 0.14 s at ~110 ops/s).
        if (batch.length && stream.bufferedCount() === 0) break;
        const event = await stream.tryNext();
        if (!event) {
          drained = true;
          break;
        }
        if (options.stopAfter && event.clusterTime.greaterThan(options.stopAfter)) {
          reachedStop = true;
          break;
        }
        if (event.wallTime) lastWall = event.wallTime;
        lastTime = event.clusterTime;
        if (isRelevant(event, run.filter)) {
          batch.push(event);
          if (options.strayAfter && lastTime.greaterThan(options.strayAfter)) stray.add(`${event.ns.db}.${event.ns.coll ?? '*'}`);
        }
      }
      if (batch.length) {
        const applyStarted = Date.now();
        await run.changes?.observe(batch); // queued for a recheck before it is applied: a crash re-queues, never loses
        await applier.apply(batch, checkpoint);
        failpoint('tail:batch-applied');
        ports.log.debug({ applied: batch.length, drained, readMs: applyStarted - readStarted, applyMs: Date.now() - applyStarted }, 'applied change events');
      }
      if (reachedStop) {
        caughtUp = true;
        break;
      }
      const token = stream.resumeToken as Document | undefined;
      const now = Date.now();
      lagSeconds = drained ? 0 : lastWall ? Math.max(0, (now - lastWall.getTime()) / 1000) : lagSeconds;
      caughtUp = drained;
      const moved = batch.length > 0 || lastTime !== undefined;
      if (token && (batch.length > 0 || (moved && now - lastSave > SAVE_IDLE_POSITION_MS) || (drained && now - lastSave > SAVE_IDLE_POSITION_MS))) {
        const saved = await store.update(ports.runner, { applied: appliedPosition(token, lastWall), unresolved: applier.unresolved.toState(), lagSeconds }, { $inc: { eventsApplied: batch.length }, $unset: { streamError: '' } });
        // The save is conditional on the lease: not saved means another runner owns the migration now.
        if (!saved) throw new LeaseLostError(store.name);
        lastSave = now;
      }
      if (now - lastLagSample > SAMPLE_LAG_MS) {
        await store.recordLag(ports.runner, Number(lagSeconds.toFixed(2)));
        lastLagSample = now;
      }
      options.onBatch?.(lagSeconds);
      if (options.shouldStop?.()) break;
      if (options.untilDrained && drained) {
        assertSettled(applier);
        caughtUp = true;
        break;
      }
      if (options.untilLagAtMost !== undefined && (drained || lagSeconds <= options.untilLagAtMost)) {
        caughtUp = true;
        break;
      }
    }
  } catch (error) {
    const lost = historyLostError(run.config.name, error);
    if (lost) {
      await store.update(ports.runner, { resyncRequired: true, error: lost.message, phase: 'failed' }).catch(() => undefined);
      throw lost;
    }
    // A stream that fails is never "caught up": the lag is unknown until a slice gets past the failure.
    await store.update(ports.runner, { lagSeconds: null, streamError: `${(error as Error).message}`.slice(0, 500) }).catch(() => undefined);
    throw error;
  } finally {
    await stream?.close().catch(() => undefined);
  }
  // Persist the final position (the loop may have ended between saves) — never one past a stop point.
  const token = stream!.resumeToken;
  if (token && !reachedStop) await store.update(ports.runner, { applied: appliedPosition(token), unresolved: applier.unresolved.toState(), lagSeconds });
  run.doc = (await store.get())!;
  return { lagSeconds, caughtUp, applied: applier.applied, strayWrites: [...stray] };
}

export function newApplier(run: MigrationRun): Applier {
  return new Applier({
    source: run.source,
    destination: run.destination,
    filter: run.filter,
    store: run.store,
    log: run.ports.log,
    concurrency: Math.max(2, run.config.sync.parallelCollections),
    assertLease: () => run.lease.assertHeld(),
    unresolved: run.doc.unresolved ?? [],
  });
}

/**
 * Drained to the end means every update's document is known: one still open would be a document whose last
 * state the destination does not have. The events that settle it precede the end of the stream, so this is
 * a defect to report, never a state to commit.
 */
function assertSettled(applier: Applier): void {
  const open = applier.unresolved.toState();
  if (!open.length) return;
  const where = [...new Set(open.map((o) => `${o.db}.${o.coll}`))].join(', ');
  throw new OperationError(
    `${open.length} updated document(s) in ${where} could not be read back from the source and no later change explains why`,
    'run `tail` again; if this persists, run `verify` and report it with the namespaces above',
  );
}
