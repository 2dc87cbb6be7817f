/**
 * The one pipeline a cutover and a rehearsal share, run once the source is about to be fixed at a time T:
 * freeze → final time T → drain to T → verify → restore TTLs. What differs between them is injected:
 * - the freeze: a real cutover blocks the source's writers (or trusts that they stopped); a rehearsal stops no
 *   one and only fixes T, draining the change stream up to T and no further;
 * - the verifier: with the source frozen, an exact recheck; with it still moving, a recheck as of T (snapshot
 *   reads at T);
 * - the journal: a cutover records each step in the migration document before it has effects, so a rerun after
 *   a crash continues at the recorded step; a rehearsal keeps its steps in memory.
 */
import type { Timestamp } from 'mongodb';
import { OperationError } from '../../errors.js';
import type { VerifyReport } from '../../model.js';
import { lastWriteTime } from '../../mongo/introspection.js';
import type { MigrationRun } from '../run.js';
import { tailLoop, type TailOptions } from '../tail.js';
import { finalCheck } from '../verify/continuous/final-check.js';
import { ContinuousVerifier } from '../verify/continuous/verifier.js';
import { listPairs, sourceCollectionOfTarget } from '../verify/pairs.js';
import { finalizeUniqueIndexes } from './finalize-unique.js';
import { restoreRelaxedIndexes } from './restore-indexes.js';

/** The pipeline's steps, in order; 'commit' is where it hands back to its caller. */
export const PIPELINE_STEPS = ['write-block', 'final-time', 'drain', 'verify', 'restore-indexes', 'commit'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** Where the pipeline stands and how a step is recorded (in the state for a cutover, in memory for a rehearsal). */
export interface StepJournal {
  step(): PipelineStep;
  finalTime(): Timestamp | undefined;
  /** Records the next step (and, from 'drain' on, the final time) before its effects. */
  advance(step: PipelineStep, record?: { finalTime?: Timestamp; error?: string; verification?: string }): Promise<void>;
}

/** How the source is fixed at T. */
export interface Freeze {
  /** Stops the source's writers (a write block), or nothing. */
  engage(): Promise<void>;
  /** What the drain does with events after T: stop at T (rehearsal), or report them as stray writes. */
  drainBeyond(finalTime: Timestamp): Pick<TailOptions, 'stopAfter' | 'strayAfter'>;
}

/** How what the drain left is judged. */
export interface Verification {
  mode: 'none' | 'count' | 'hash';
  /** Read the source as of T (it still moves); undefined: the source is frozen, read it as it is. */
  asOfFinalTime: boolean;
  /** Told the report when it holds mismatches, before the step is recorded as passed; may throw to stop. */
  onMismatches(report: VerifyReport): Promise<void>;
}

export interface PipelineStrategy {
  journal: StepJournal;
  freeze: Freeze;
  verification: Verification;
  drainTimeoutMs: number;
  timings: Timings;
  onStep?: (step: PipelineStep) => void;
}

export interface PipelineResult {
  finalTime: Timestamp;
  verification?: VerifyReport;
}

/** Runs the pipeline from the journal's step up to 'commit'. */
export async function runFrozenPipeline(run: MigrationRun, strategy: PipelineStrategy): Promise<PipelineResult> {
  const { journal, freeze, timings } = strategy;
  const advance = async (step: PipelineStep, record?: Parameters<StepJournal['advance']>[1]): Promise<void> => {
    await journal.advance(step, record);
    strategy.onStep?.(step);
  };
  strategy.onStep?.(journal.step());

  if (journal.step() === 'write-block') {
    await timings.time('write-block', async () => {
      await freeze.engage();
      await advance('final-time');
    });
  }
  if (journal.step() === 'final-time') await advance('drain', { finalTime: await lastWriteTime(run.source, 'applied') });

  const finalTime = journal.finalTime();
  if (!finalTime) throw new OperationError('the cutover record has no final time', 'run `abort` and start the cutover again');
  if (journal.step() === 'drain') {
    await timings.time('drain', async () => {
      await waitUntilMajorityCommitted(run, finalTime);
      const result = await tailLoop(run, { deadline: Date.now() + strategy.drainTimeoutMs, untilDrained: true, ...freeze.drainBeyond(finalTime) });
      if (result.strayWrites.length) {
        // The final time is taken again on the rerun, once the stray writers are stopped.
        await journal.advance('final-time', { error: `writes reached the source during cutover: ${result.strayWrites.join(', ')}` });
        throw new OperationError(`writes reached the source after the applications were said to be stopped (${result.strayWrites.join(', ')}); the cutover did not commit`, 'stop every writer of those namespaces and run cutover again (or use cutover.writeBlock: source)');
      }
      if (!result.caughtUp) throw new OperationError(`the drain did not finish within ${Math.round(strategy.drainTimeoutMs / 1000)} s`, 'run cutover again; it resumes the drain');
      await advance('verify');
    });
  }

  let verification: VerifyReport | undefined;
  if (journal.step() === 'verify') {
    await timings.time('verify', async () => {
      const { mode, asOfFinalTime } = strategy.verification;
      if (mode !== 'none') {
        // Only what continuous verification left open: the recheck queue, uncovered partitions, metadata.
        verification = await finalCheck(run, { mode, ...(asOfFinalTime ? { sourceAt: finalTime } : {}), onPhase: (phase, ms) => timings.record(`verify:${phase}`, ms) });
        if (verification.mismatches.length) await strategy.verification.onMismatches(verification);
      }
      const summary = verification
        ? `${verification.collections.length} collections equal (${verification.mode === 'hash' ? 'continuous verification, recheck queue and metadata' : 'metadata counts, indexes and options'})`
        : 'not verified (cutover.verify: none)';
      await advance('restore-indexes', { verification: summary });
    });
  }

  if (journal.step() === 'restore-indexes') {
    await timings.time('restore-indexes', async () => {
      const restored = await restoreRelaxedIndexes(run.destination, run.store);
      run.ports.log.info({ restored }, 'relaxed indexes restored');
      await advance('commit');
    });
  }
  return { finalTime, ...(verification ? { verification } : {}) };
}

/** Milliseconds per named step of one run. */
export class Timings {
  readonly ms: Record<string, number> = {};

  async time<T>(step: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.record(step, Date.now() - started);
    }
  }

  record(step: string, ms: number): void {
    this.ms[step] = ms;
  }
}

/** Unique conversions left over from tail (a slice that ended before them), done while writes still flow. */
export async function finalizeBeforeFreeze(run: MigrationRun): Promise<void> {
  const pairs = await listPairs(run.source, run.filter);
  await finalizeUniqueIndexes(run.source, run.destination, run.store, sourceCollectionOfTarget(pairs), run.ports.signal);
}

/** Runs work (tailing) with continuous verification beside it when the cutover verifies by hash. */
export async function withContinuousVerification<T>(run: MigrationRun, lag: () => number, work: () => Promise<T>): Promise<T> {
  const verifier = run.config.cutover.verify === 'hash' ? ContinuousVerifier.start(run, { pauseAboveLagSeconds: run.config.cutover.maxLagSeconds / 2, lag }) : undefined;
  try {
    return await work();
  } finally {
    await verifier?.stop();
  }
}

/** Every change up to the final time is visible to the change stream once it is majority-committed. */
async function waitUntilMajorityCommitted(run: MigrationRun, time: Timestamp): Promise<void> {
  await run.source.db('admin').command({ find: 'system.version', filter: {}, limit: 1, readConcern: { level: 'majority', afterClusterTime: time } });
}
