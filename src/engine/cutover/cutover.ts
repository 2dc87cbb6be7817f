import { OperationError, UserError } from '../../errors.js';
import type { VerifyReport } from '../../model.js';
import type { MigrationDoc } from '../state/types.js';
import { failpoint } from '../failpoints.js';
import { transition, type MigrationRun } from '../run.js';
import { tailLoop } from '../tail.js';
import { finalizeBeforeFreeze, runFrozenPipeline, Timings, withContinuousVerification, type Freeze, type PipelineStep, type StepJournal } from './pipeline.js';
import { setSourceWriteBlock } from './write-block.js';

/**
 * The steps inside the write block, in order. Index work is not among them: unique indexes are finalized before
 * the block (finalize-unique.ts) and only TTLs, one collMod each, are restored at the commit (after the verify,
 * so that a destination expiring on its own clock cannot make the sides differ).
 */
export type CutoverStep = PipelineStep;

export interface CutoverOptions {
  /** With writeBlock none: the user states the applications are stopped. */
  applicationsStopped: boolean;
  /** How long to wait for the lag to come under the threshold and stay there (the step's own time box). */
  lagWaitMs: number;
  /** How long the drain may take once writes are blocked. */
  drainTimeoutMs: number;
  /** Told as each step starts (and on every tailed batch of the lag hold), so the reports show them passing. */
  onStep?: (step: CutoverStep | 'lag-hold') => void;
}

export type CutoverTiming = CutoverStep | 'lag-hold' | 'finalize-indexes' | `verify:${string}`;

export interface CutoverResult {
  downtimeSeconds: number;
  verification?: VerifyReport;
  /** Milliseconds each step took in this run (verify:* are the parts of the verify step). */
  timings: Partial<Record<CutoverTiming, number>>;
}

/**
 * Gated, resumable cutover: the lag hold with continuous verification running, then the frozen pipeline
 * (pipeline.ts) with the source write block as its freeze and the migration document as its journal, so a
 * rerun after a crash continues at the recorded step and `status` never hides a write block this migration set.
 */
export async function runCutoverEngine(run: MigrationRun, options: CutoverOptions): Promise<CutoverResult> {
  const { config, store, ports } = run;
  const timings = new Timings();
  if (run.doc.phase === 'committed') throw new UserError(`migration "${config.name}" is already committed`);
  if (run.doc.phase !== 'tailing' && run.doc.phase !== 'cutting-over') {
    throw new UserError(`migration "${config.name}" is ${run.doc.phase}; cutover needs the copy done and the destination tailing`, 'run `sync` (and `tail`) until status says ready for cutover');
  }
  if (config.cutover.writeBlock === 'none' && !options.applicationsStopped) {
    throw new UserError('cutover.writeBlock is none: stop every application writing to the source, then rerun with --applications-stopped', 'or set cutover.writeBlock: source to let the cutover block writes itself (MongoDB 6.0+)');
  }

  if (run.doc.phase === 'tailing') {
    // Before the block: what is left of the unique conversions (normally done during tail), then the lag hold
    // with continuous verification running, so the queue the block rechecks holds only the last seconds.
    await timings.time('finalize-indexes', () => finalizeBeforeFreeze(run));
    options.onStep?.('lag-hold');
    await timings.time('lag-hold', () => withContinuousVerification(run, () => run.doc.lagSeconds ?? 0, () => holdLag(run, options.lagWaitMs, () => options.onStep?.('lag-hold'))));
    await transition(run, 'cutting-over', `write block: ${config.cutover.writeBlock}`, { cutover: { step: 'write-block', startedAt: new Date() } });
  }

  const { verification } = await runFrozenPipeline(run, {
    journal: stateJournal(run),
    freeze: config.cutover.writeBlock === 'source' ? sourceWriteBlock(run) : { engage: async () => undefined, drainBeyond: (finalTime) => ({ strayAfter: finalTime }) },
    verification: {
      mode: config.cutover.verify,
      asOfFinalTime: false,
      onMismatches: async (report) => {
        const problems = report.mismatches.length;
        const message = `verification found ${problems} mismatch${problems === 1 ? '' : 'es'}; the cutover did not commit`;
        await store.update(ports.runner, { error: message, 'cutover.verification': message });
        throw new VerificationFailed(message, report);
      },
    },
    drainTimeoutMs: options.drainTimeoutMs,
    timings,
    ...(options.onStep ? { onStep: options.onStep } : {}),
  });

  failpoint('cutover:before-committed');
  const committedAt = new Date();
  const blockedSince = run.doc.writeBlock && !run.doc.writeBlock.liftedAt ? run.doc.writeBlock.setAt : run.doc.cutover!.startedAt;
  const downtimeSeconds = Math.max(0, (committedAt.getTime() - blockedSince.getTime()) / 1000);
  const cutoverTimings = timings.ms as CutoverResult['timings'];
  await transition(run, 'committed', `downtime ${downtimeSeconds.toFixed(1)} s`, { 'cutover.committedAt': committedAt, 'cutover.downtimeSeconds': downtimeSeconds, 'cutover.timings': cutoverTimings } as Partial<MigrationDoc>);
  await store.migrations.updateOne({ _id: store.name }, { $unset: { error: '' } });
  run.doc = await store.current();
  return { downtimeSeconds, ...(verification ? { verification } : {}), timings: cutoverTimings };
}

/** The cutover's steps live in the migration document: recorded before their effects, under the lease. */
function stateJournal(run: MigrationRun): StepJournal {
  const cutover = (): NonNullable<MigrationDoc['cutover']> => {
    if (!run.doc.cutover) throw new OperationError('the migration is cutting over but has no cutover record', 'run `abort` and start the cutover again');
    return run.doc.cutover;
  };
  return {
    step: () => cutover().step as PipelineStep,
    finalTime: () => cutover().finalTime,
    advance: async (step, record = {}) => {
      failpoint(`cutover:before-${step}`);
      run.lease.assertHeld();
      const set: Record<string, unknown> = { 'cutover.step': step };
      if (record.finalTime) set['cutover.finalTime'] = record.finalTime;
      if (record.error) set.error = record.error;
      if (record.verification) set['cutover.verification'] = record.verification;
      await run.store.update(run.ports.runner, set);
      run.doc = await run.store.current();
    },
  };
}

/** The freeze of a cutover with writeBlock source: the server refuses every user write until it is lifted. */
function sourceWriteBlock(run: MigrationRun): Freeze {
  return {
    engage: async () => {
      // Recorded first: a crash right after blocking must still leave a trace that status reports.
      if (!run.doc.writeBlock || run.doc.writeBlock.liftedAt) await run.store.update(run.ports.runner, { writeBlock: { setAt: new Date(), by: run.ports.runner } });
      failpoint('cutover:before-block');
      await setSourceWriteBlock(run.source, true);
      failpoint('cutover:after-block');
      run.ports.log.info('source writes blocked');
    },
    drainBeyond: () => ({}),
  };
}

export class VerificationFailed extends OperationError {
  constructor(message: string, readonly report: VerifyReport) {
    super(message, 'the source stays write-blocked: inspect the mismatches, fix them, and run cutover again — or `abort` to lift the block and go back');
  }
}

/** Tails until the lag has stayed under the threshold for lagHoldSeconds; fails with the figures otherwise. */
async function holdLag(run: MigrationRun, waitMs: number, onBatch: () => void): Promise<void> {
  const { maxLagSeconds, lagHoldSeconds } = run.config.cutover;
  let okSince: number | undefined;
  let worst = 0;
  const result = await tailLoop(run, {
    deadline: Date.now() + waitMs + lagHoldSeconds * 1000,
    onBatch: (lag) => {
      onBatch();
      worst = Math.max(worst, lag);
      if (lag <= maxLagSeconds) okSince ??= Date.now();
      else okSince = undefined;
    },
    shouldStop: () => okSince !== undefined && Date.now() - okSince >= lagHoldSeconds * 1000,
  });
  if (okSince === undefined || Date.now() - okSince < lagHoldSeconds * 1000) {
    throw new OperationError(
      `lag did not stay at or under ${maxLagSeconds} s for ${lagHoldSeconds} s (now ${result.lagSeconds.toFixed(1)} s, worst ${worst.toFixed(1)} s); nothing was blocked`,
      'tail slices go on again: run the cutover once status says ready, reduce the write load, give the cutover a longer max-duration, or raise cutover.maxLagSeconds',
    );
  }
}
