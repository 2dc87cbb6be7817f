import type { Timestamp } from 'mongodb';
import { UserError } from '../../errors.js';
import type { VerifyReport } from '../../model.js';
import { finalizeBeforeFreeze, runFrozenPipeline, Timings, withContinuousVerification, type PipelineStep, type StepJournal } from '../cutover/pipeline.js';
import type { MigrationRun } from '../run.js';
import { runSyncEngine } from '../sync.js';
import { tailLoop } from '../tail.js';
import { compareAtSnapshot } from './snapshot-compare.js';

export interface RehearsalResult {
  /** Milliseconds per phase; the steps a real cutover runs inside its block are marked by `blockSteps`. */
  timings: Record<string, number>;
  blockSteps: readonly string[];
  /** Lag after each tail batch. */
  lags: number[];
  /** The cutover pipeline's own verification, as of the frozen point (what a real cutover would judge). */
  recheck: VerifyReport;
  /** The complete comparison as of the frozen point (the as-of-T snapshot strategy, like `verify` in full). */
  verification: VerifyReport;
  predictedDowntimeSeconds: number;
  frozenAt: Timestamp;
}

/** What a write block costs besides its steps: setting it, taking the final time, the commit's state writes. */
const BLOCK_OVERHEAD_MS = 150;
const BLOCK_STEPS = ['drain', 'verify', 'restore-indexes'] as const;
/** The drain to T of a rehearsal: the tail before it kept the lag low. */
const REHEARSAL_DRAIN_MS = 300_000;

/**
 * The cutover pipeline against a staging destination, without touching the source's writes: the same steps in
 * the same order (finalize indexes → freeze → drain → verify → restore TTLs), with the freeze as a frozen source
 * time T instead of a write block, and the verifier reading the source as of T (snapshot reads). The predicted
 * downtime is what the steps a real block would cover took here. A full as-of-T comparison follows, outside
 * that figure, as the rehearsal's proof that the copy is exact.
 */
export async function rehearseEngine(run: MigrationRun, options: { tailMs: number }): Promise<RehearsalResult> {
  const timings = new Timings();
  if (run.doc.phase === 'committed' || run.doc.phase === 'cutting-over') throw new UserError(`migration "${run.config.name}" on this destination is ${run.doc.phase}: rehearse against a staging destination`);
  const synced = await timings.time('sync', () => runSyncEngine(run));
  if (!synced.finished) throw new UserError('the rehearsal was interrupted during sync', 'run rehearse again: it resumes');
  const copy = run.doc.copy;
  if (copy.startedAt && copy.finishedAt) timings.record('copy', copy.finishedAt.getTime() - copy.startedAt.getTime());

  const lags: number[] = [];
  await timings.time('tail', () => withContinuousVerification(run, () => lags[lags.length - 1] ?? Infinity, () => tailLoop(run, { deadline: Date.now() + options.tailMs, onBatch: (lag) => lags.push(lag) })));
  await timings.time('finalize-indexes', () => finalizeBeforeFreeze(run));

  // The freeze: what a cutover's write block would have fixed, without stopping anyone.
  const { finalTime: frozenAt, verification: recheck } = await runFrozenPipeline(run, {
    journal: memoryJournal(),
    freeze: { engage: async () => undefined, drainBeyond: (finalTime) => ({ stopAfter: finalTime }) },
    verification: {
      mode: run.config.cutover.verify === 'none' ? 'count' : run.config.cutover.verify,
      asOfFinalTime: true,
      // A rehearsal reports its mismatches and goes on to the full comparison.
      onMismatches: async () => undefined,
    },
    drainTimeoutMs: REHEARSAL_DRAIN_MS,
    timings,
  });
  // Never undefined: a rehearsal verifies at least by counts (its mode is never none).
  if (!recheck) throw new Error('the rehearsal pipeline returned no verification');
  const predictedMs = BLOCK_STEPS.reduce((sum, step) => sum + (timings.ms[step] ?? 0), BLOCK_OVERHEAD_MS);
  const verification = await timings.time('full-comparison-as-of-T', () => compareAtSnapshot(run.source, run.destination, run.doc.collections, frozenAt));
  return { timings: timings.ms, blockSteps: BLOCK_STEPS, lags, recheck, verification, predictedDowntimeSeconds: predictedMs / 1000, frozenAt };
}

/** A rehearsal's pipeline steps live in memory: a rehearsal interrupted after the freeze starts the freeze again. */
function memoryJournal(): StepJournal {
  let step: PipelineStep = 'write-block';
  let finalTime: Timestamp | undefined;
  return {
    step: () => step,
    finalTime: () => finalTime,
    advance: async (next, record = {}) => {
      step = next;
      finalTime = record.finalTime ?? finalTime;
    },
  };
}
