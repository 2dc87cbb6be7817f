import type { Timestamp } from 'mongodb';
import { OperationError, UserError } from '../../errors.js';
import type { VerifyReport } from '../../model.js';
import type { MigrationDoc } from '../state/types.js';
import { failpoint } from '../failpoints.js';
import { transition, type MigrationRun } from '../run.js';
import { tailLoop } from '../tail.js';
import { finalCheck } from '../verify/continuous/final-check.js';
import { listPairs } from '../verify/continuous/meta-compare.js';
import { ContinuousVerifier } from '../verify/continuous/verifier.js';
import { finalizeUniqueIndexes } from './finalize-unique.js';
import { restoreRelaxedIndexes } from './restore-indexes.js';
import { setSourceWriteBlock } from './write-block.js';

/**
 * The steps inside the write block, in order. Index work is not among them: unique indexes are finalized before
 * the block (finalize-unique.ts) and only TTLs, one collMod each, are restored at the commit (after the verify,
 * so that a destination expiring on its own clock cannot make the sides differ).
 */
export type CutoverStep = 'write-block' | 'final-time' | 'drain' | 'verify' | 'restore-indexes' | 'commit';

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
 * Gated, resumable cutover. Each step is recorded before it has effects, so a rerun after a crash continues
 * at the recorded step and `status` never hides a write block this migration set.
 */
export async function runCutoverEngine(run: MigrationRun, options: CutoverOptions): Promise<CutoverResult> {
  const { config, store, ports } = run;
  const timings: CutoverResult['timings'] = {};
  const time = async <T>(step: keyof CutoverResult['timings'], work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await work();
    } finally {
      timings[step] = Date.now() - started;
    }
  };
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
    await time('finalize-indexes', () => finalizeBeforeBlock(run));
    options.onStep?.('lag-hold');
    const verifier = config.cutover.verify === 'hash' ? ContinuousVerifier.start(run, { pauseAboveLagSeconds: config.cutover.maxLagSeconds / 2, lag: () => run.doc.lagSeconds ?? 0 }) : undefined;
    try {
      await time('lag-hold', () => holdLag(run, options.lagWaitMs, () => options.onStep?.('lag-hold')));
    } finally {
      await verifier?.stop();
    }
    await transition(run, 'cutting-over', `write block: ${config.cutover.writeBlock}`, { cutover: { step: 'write-block', startedAt: new Date() } });
  }

  const setStep = async (step: CutoverStep, set: Record<string, unknown> = {}): Promise<void> => {
    failpoint(`cutover:before-${step}`);
    run.lease.assertHeld();
    await store.update(ports.runner, { 'cutover.step': step, ...set });
    run.doc = (await store.get())!;
    options.onStep?.(step);
  };
  options.onStep?.(run.doc.cutover!.step as CutoverStep);

  if (run.doc.cutover!.step === 'write-block') {
    await time('write-block', async () => {
      if (config.cutover.writeBlock === 'source') {
        // Recorded first: a crash right after blocking must still leave a trace that status reports.
        if (!run.doc.writeBlock || run.doc.writeBlock.liftedAt) await store.update(ports.runner, { writeBlock: { setAt: new Date(), by: ports.runner } });
        failpoint('cutover:before-block');
        await setSourceWriteBlock(run.source, true);
        failpoint('cutover:after-block');
        ports.log.info('source writes blocked');
      }
      await setStep('final-time');
    });
  }

  if (run.doc.cutover!.step === 'final-time') {
    const hello = await run.source.db('admin').command({ hello: 1 });
    const finalTime = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
    await setStep('drain', { 'cutover.finalTime': finalTime });
  }

  if (run.doc.cutover!.step === 'drain') {
    await time('drain', async () => {
      const finalTime = run.doc.cutover!.finalTime!;
      await waitUntilMajorityCommitted(run, finalTime);
      const result = await tailLoop(run, { deadline: Date.now() + options.drainTimeoutMs, untilDrained: true, ...(config.cutover.writeBlock === 'none' ? { strayAfter: finalTime } : {}) });
      if (result.strayWrites.length) {
        // The final time is taken again on the rerun, once the stray writers are stopped.
        await setStep('final-time', { error: `writes reached the source during cutover: ${result.strayWrites.join(', ')}` });
        throw new OperationError(`writes reached the source after the applications were said to be stopped (${result.strayWrites.join(', ')}); the cutover did not commit`, 'stop every writer of those namespaces and run cutover again (or use cutover.writeBlock: source)');
      }
      if (!result.caughtUp) throw new OperationError(`the drain did not finish within ${Math.round(options.drainTimeoutMs / 1000)} s`, 'run cutover again; it resumes the drain');
      await setStep('verify');
    });
  }

  let verification: VerifyReport | undefined;
  if (run.doc.cutover!.step === 'verify') {
    await time('verify', async () => {
      if (config.cutover.verify !== 'none') {
        // Only what continuous verification left open: the recheck queue, uncovered partitions, metadata.
        verification = await finalCheck(run, { mode: config.cutover.verify, onPhase: (phase, ms) => (timings[`verify:${phase}`] = ms) });
        const problems = verification.mismatches.length;
        if (problems) {
          const message = `verification found ${problems} mismatch${problems === 1 ? '' : 'es'}; the cutover did not commit`;
          await store.update(ports.runner, { error: message, 'cutover.verification': message });
          throw new VerificationFailed(message, verification);
        }
      }
      await setStep('restore-indexes', { 'cutover.verification': verification ? `${verification.collections.length} collections equal (${verification.mode === 'hash' ? 'continuous verification, recheck queue and metadata' : 'metadata counts, indexes and options'})` : 'not verified (cutover.verify: none)' });
    });
  }

  if (run.doc.cutover!.step === 'restore-indexes') {
    await time('restore-indexes', async () => {
      const restored = await restoreRelaxedIndexes(run.destination, store);
      ports.log.info({ restored }, 'relaxed indexes restored');
      await setStep('commit');
    });
  }

  failpoint('cutover:before-committed');
  const committedAt = new Date();
  const blockedSince = run.doc.writeBlock && !run.doc.writeBlock.liftedAt ? run.doc.writeBlock.setAt : run.doc.cutover!.startedAt;
  const downtimeSeconds = Math.max(0, (committedAt.getTime() - blockedSince.getTime()) / 1000);
  await transition(run, 'committed', `downtime ${downtimeSeconds.toFixed(1)} s`, { 'cutover.committedAt': committedAt, 'cutover.downtimeSeconds': downtimeSeconds, 'cutover.timings': timings } as Partial<MigrationDoc>);
  await store.migrations.updateOne({ _id: store.name }, { $unset: { error: '' } });
  run.doc = (await store.get())!;
  return { downtimeSeconds, ...(verification ? { verification } : {}), timings };
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

/** Every change up to the final time is visible to the change stream once it is majority-committed. */
async function waitUntilMajorityCommitted(run: MigrationRun, time: Timestamp): Promise<void> {
  await run.source.db('admin').command({ find: 'system.version', filter: {}, limit: 1, readConcern: { level: 'majority', afterClusterTime: time } });
}

/** Unique conversions left over from tail (a slice that ended before them), done while writes still flow. */
async function finalizeBeforeBlock(run: MigrationRun): Promise<void> {
  const pairs = await listPairs(run.source, run.filter);
  await finalizeUniqueIndexes(run.source, run.destination, run.store, (target) => pairs.find((p) => p.target === target)?.source, run.ports.signal);
}
