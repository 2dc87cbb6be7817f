import type { Config } from '../../config/types.js';
import { OperationError, UserError } from '../../errors.js';
import type { Progress } from '../../model.js';
import { cutoverRequestLive, watchForCutover } from '../handoff.js';
import { headroomWarning, oplogHeadroomSeconds } from '../headroom.js';
import { settingsOf, type EnginePorts } from '../ports.js';
import { retryTransient, withReconnect } from '../reconnect.js';
import { closeRun, openRun, type MigrationRun } from '../run.js';
import type { MigrationDoc, PartitionDoc } from '../state/types.js';
import { tailLoop } from '../tail.js';
import { readVerificationProgress } from '../verify/continuous/coverage.js';
import { ContinuousVerifier } from '../verify/continuous/verifier.js';
import { progressFor } from './progress.js';

export interface TailSliceOptions {
  /** How long this slice applies changes (the edge's max-duration policy). */
  durationMs: number;
  forceTakeover?: boolean;
}

export type TailSliceResult =
  /** The cutover has the migration (requested, cutting over or committed): the slice did not start. */
  | { kind: 'left-to-cutover'; doc: MigrationDoc; progress?: Progress }
  | {
      kind: 'ran';
      applied: number;
      /** Updates applied from their own delta, and deltas that missed (document missing, statement refused), read back. */
      deltas: { applied: number; missed: number };
      /** Documents written several to a statement, and in how many statements. */
      grouped: { documents: number; statements: number };
      lagSeconds: number;
      elapsedMs: number;
      /** The runner whose cutover request ended the slice early, if one did. */
      handedOverTo?: string;
      stoppedBySignal: boolean;
      doc: MigrationDoc;
      progress: Progress;
    };

/** Thrown before the lease is taken when the cutover has the migration: the slice ends cleanly instead. */
class LeftToCutover extends Error {
  constructor(readonly doc: MigrationDoc, readonly partitions?: PartitionDoc[]) {
    super('left to the cutover');
  }
}

/**
 * Applies live changes for a time-boxed slice, then saves the position and reports readiness. Slices go on
 * while ready (a reviewer may take hours to approve the cutover) until the cutover asks for the migration:
 * then the running slice hands over within seconds, and later slices leave it alone.
 */
export async function tailSlice(config: Config, ports: EnginePorts, options: TailSliceOptions): Promise<TailSliceResult> {
  let run: MigrationRun;
  try {
    run = await retryTransient(ports, 'tail', () =>
      openRun(config, ports, {
        forceTakeover: options.forceTakeover,
        beforeLease: async (store, doc) => {
          if (cutoverHasIt(doc, settingsOf(ports).leaseTtlMs)) throw new LeftToCutover(doc, await store.partitionsOf());
        },
        // A cutover that took the lease a moment after the check above: leave, rather than wait and fail.
        leaseStopIf: (doc) => (cutoverHasIt(doc, settingsOf(ports).leaseTtlMs) ? new LeftToCutover(doc) : undefined),
      }),
    );
  } catch (error) {
    if (!(error instanceof LeftToCutover)) throw error;
    // Without the partitions (found while waiting for the lease) the copy figures would read 0: left out.
    return { kind: 'left-to-cutover', doc: error.doc, ...(error.partitions ? { progress: progressFor(config, error.doc, error.partitions) } : {}) };
  }
  try {
    const { doc } = run;
    if (doc.resyncRequired) {
      // Say why, not only that the phase is wrong: the saved position is gone and tailing would leave a gap.
      throw new OperationError(doc.error ?? `migration "${config.name}" lost its position in the source oplog and needs a re-sync`, `re-sync: run \`mongo-live-migrate abort --config ${config.file} --drop-destination --confirm ${config.name}\`, then \`sync\``);
    }
    if (doc.phase !== 'tailing') {
      throw new UserError(`migration "${config.name}" is ${doc.phase}${doc.step ? `/${doc.step}` : ''}, not tailing`, doc.phase === 'syncing' || doc.phase === 'created' ? 'run `sync` until it finishes first' : 'see `status`');
    }
    return await runSlice(run, config, options.durationMs, ports);
  } finally {
    await closeRun(run);
  }
}

async function runSlice(run: MigrationRun, config: Config, durationMs: number, ports: EnginePorts): Promise<TailSliceResult> {
  // Copy progress no longer changes while tailing: read the partitions once for the live progress.
  const partitions = await retryTransient(ports, 'tail', () => run.store.partitionsOf());
  const started = Date.now();
  let lastReport = 0;
  const cutover = watchForCutover(run);
  // Unknown until the first batch: a slice that starts behind a backlog must not begin with the verifier's reads
  // competing with the tail's first lookups (measured: the first batches of a burst took 1-3 s each).
  let lag = Infinity;
  // Beside the tail, in the same process: compares partitions and rechecks the queue, throttled by the lag.
  const verifier = config.cutover.verify === 'hash' ? ContinuousVerifier.start(run, { lag: () => lag, pauseAboveLagSeconds: config.cutover.maxLagSeconds / 2 }) : undefined;
  try {
    const result = await withReconnect(run, 'tail', () =>
      tailLoop(run, {
        deadline: started + durationMs,
        onBatch: (seconds) => {
          lag = seconds;
          if (Date.now() - lastReport < 1000) return;
          lastReport = Date.now();
          ports.onProgress?.(progressFor(config, run.doc, partitions));
        },
        shouldStop: cutover.requested,
      }),
    );
    await verifier?.stop();
    // Read again after the loop, whose reconnects do not cover these reads: a connection cut during the slice can
    // still sit in the pool and fail the first read after it (CI: verifier-reconnect's slice failed so).
    run.doc = await retryTransient(ports, 'tail', () => run.store.current());
    const headroom = await oplogHeadroomSeconds(run.source, run.doc).catch(() => null);
    const verification = verifier ? await retryTransient(ports, 'tail', () => readVerificationProgress(run.store, run.doc, config.cutover.maxLagSeconds)) : undefined;
    const progress = progressFor(config, run.doc, partitions, { oplogHeadroomSeconds: headroom, ...(verification ? { verification } : {}) });
    const warning = headroomWarning(headroom, durationMs);
    progress.warnings = [...progress.warnings, ...(warning ? [warning] : []), ...(run.majority?.warnings() ?? [])];
    const by = cutover.by();
    return {
      kind: 'ran',
      applied: result.applied,
      deltas: result.deltas,
      grouped: result.grouped,
      lagSeconds: result.lagSeconds,
      elapsedMs: Date.now() - started,
      ...(by !== undefined ? { handedOverTo: by } : {}),
      stoppedBySignal: ports.signal.aborted,
      doc: run.doc,
      progress,
    };
  } finally {
    await verifier?.stop();
    cutover.stop();
  }
}

function cutoverHasIt(doc: MigrationDoc, leaseTtlMs: number): boolean {
  return doc.phase === 'cutting-over' || doc.phase === 'committed' || (doc.phase === 'tailing' && cutoverRequestLive(doc, leaseTtlMs));
}
