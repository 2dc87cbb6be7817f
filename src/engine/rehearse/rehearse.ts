import type { Timestamp } from 'mongodb';
import { UserError } from '../../errors.js';
import type { VerifyReport } from '../../model.js';
import { finalizeUniqueIndexes } from '../cutover/finalize-unique.js';
import { restoreRelaxedIndexes } from '../cutover/restore-indexes.js';
import type { MigrationRun } from '../run.js';
import { runSyncEngine } from '../sync.js';
import { tailLoop } from '../tail.js';
import { finalCheck } from '../verify/continuous/final-check.js';
import { listPairs } from '../verify/continuous/meta-compare.js';
import { ContinuousVerifier } from '../verify/continuous/verifier.js';
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
const BLOCK_STEPS = ['drain', 'verify', 'restore indexes'] as const;

/**
 * The cutover pipeline against a staging destination, without touching the source's writes: the same steps in
 * the same order (finalize indexes → freeze → drain → verify → restore TTLs), with the freeze as a frozen source
 * time T instead of a write block, and the verifier reading the source as of T (snapshot reads). The predicted
 * downtime is what the steps a real block would cover took here. A full as-of-T comparison follows, outside
 * that figure, as the rehearsal's proof that the copy is exact.
 */
export async function rehearseEngine(run: MigrationRun, options: { tailMs: number }): Promise<RehearsalResult> {
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = Date.now() - started;
    }
  };
  if (run.doc.phase === 'committed' || run.doc.phase === 'cutting-over') throw new UserError(`migration "${run.config.name}" on this destination is ${run.doc.phase}: rehearse against a staging destination`);
  const synced = await time('sync', () => runSyncEngine(run));
  if (!synced.finished) throw new UserError('the rehearsal was interrupted during sync', 'run rehearse again: it resumes');
  const copy = run.doc.copy;
  if (copy.startedAt && copy.finishedAt) timings.copy = copy.finishedAt.getTime() - copy.startedAt.getTime();

  const lags: number[] = [];
  const verifies = run.config.cutover.verify === 'hash';
  const verifier = verifies ? ContinuousVerifier.start(run, { pauseAboveLagSeconds: run.config.cutover.maxLagSeconds / 2, lag: () => lags[lags.length - 1] ?? 0 }) : undefined;
  try {
    await time('tail', () => tailLoop(run, { deadline: Date.now() + options.tailMs, onBatch: (lag) => lags.push(lag) }));
  } finally {
    await verifier?.stop();
  }
  await time('finalize indexes', async () => {
    const pairs = await listPairs(run.source, run.filter);
    await finalizeUniqueIndexes(run.source, run.destination, run.store, (target) => pairs.find((p) => p.target === target)?.source, run.ports.signal);
  });

  // The freeze: what a cutover's write block would have fixed, without stopping anyone.
  const hello = await run.source.db('admin').command({ hello: 1 });
  const frozenAt = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
  await time('drain', async () => {
    await run.source.db('admin').command({ find: 'system.version', filter: {}, limit: 1, readConcern: { level: 'majority', afterClusterTime: frozenAt } });
    await tailLoop(run, { deadline: Date.now() + 300_000, untilDrained: true, stopAfter: frozenAt });
  });
  const recheck = await time('verify', () => finalCheck(run, { mode: run.config.cutover.verify === 'none' ? 'count' : run.config.cutover.verify, sourceAt: frozenAt, onPhase: (phase, ms) => (timings[`verify: ${phase}`] = ms) }));
  await time('restore indexes', () => restoreRelaxedIndexes(run.destination, run.store));
  const predictedMs = BLOCK_STEPS.reduce((sum, step) => sum + (timings[step] ?? 0), BLOCK_OVERHEAD_MS);
  const verification = await time('full comparison as of T', () => compareAtSnapshot(run.source, run.destination, run.doc.collections, frozenAt));
  return { timings, blockSteps: BLOCK_STEPS, lags, recheck, verification, predictedDowntimeSeconds: predictedMs / 1000, frozenAt };
}
