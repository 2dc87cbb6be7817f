import { formatConfigDuration as formatDuration, plural } from '../format.js';
import type { Timestamp } from 'mongodb';
import { UserError } from '../errors.js';
import { buildProgress, closeRun, compareAtSnapshot, openRun, restoreRelaxedIndexes, runSyncEngine, tailLoop, transition } from '../engine/index.js';
import { splitNamespace } from '../namespaces.js';
import { runValidate } from './validate.js';
import type { CommandImpl } from './types.js';

const DEFAULT_TAIL_MS = 60_000;

/**
 * rehearse: the whole migration against a staging destination, without touching the real source's writes:
 * validate, sync, tail for a while, then freeze at a source time T (instead of blocking writes), drain to
 * exactly T, restore indexes, compare with the source as of T (snapshot reads), and report the timings the
 * real run will see. The staging destination is cleaned up unless --keep.
 */
export const runRehearse: CommandImpl = async (config, options, ports) => {
  const validation = await runValidate(config, options, ports);
  if (validation.exitCode !== 0) return { ...validation, command: 'rehearse', summary: `rehearsal stopped: validation failed. ${validation.summary}` };
  const run = await openRun(config, ports, { create: true, forceTakeover: options.forceTakeover });
  const timings: Record<string, number> = {};
  try {
    if (run.doc.phase === 'committed' || run.doc.phase === 'cutting-over') throw new UserError(`migration "${config.name}" on this destination is ${run.doc.phase}: rehearse against a staging destination`);
    const syncStarted = Date.now();
    const synced = await runSyncEngine(run);
    timings.sync = Date.now() - syncStarted;
    if (!synced.finished) throw new UserError('the rehearsal was interrupted during sync', 'run rehearse again: it resumes');
    const copy = run.doc.copy;
    if (copy.startedAt && copy.finishedAt) timings.copy = copy.finishedAt.getTime() - copy.startedAt.getTime();
    if (copy.finishedAt) timings['replay + catch-up'] = Date.now() - copy.finishedAt.getTime();

    const lags: number[] = [];
    const tailStarted = Date.now();
    await tailLoop(run, { deadline: tailStarted + (options.maxDurationMs ?? DEFAULT_TAIL_MS), onBatch: (lag) => lags.push(lag) });
    timings.tail = Date.now() - tailStarted;

    // The frozen point: what a cutover's write block would have fixed, without stopping anyone.
    const hello = await run.source.db('admin').command({ hello: 1 });
    const frozenAt = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
    const drainStarted = Date.now();
    await run.source.db('admin').command({ find: 'system.version', filter: {}, limit: 1, readConcern: { level: 'majority', afterClusterTime: frozenAt } });
    await tailLoop(run, { deadline: Date.now() + 300_000, untilDrained: true, stopAfter: frozenAt });
    timings.drain = Date.now() - drainStarted;
    const restoreStarted = Date.now();
    await restoreRelaxedIndexes(run.destination, run.store);
    timings['restore indexes'] = Date.now() - restoreStarted;
    const verifyStarted = Date.now();
    const verification = await compareAtSnapshot(run.source, run.destination, run.doc.collections, frozenAt);
    timings.verify = Date.now() - verifyStarted;
    const predictedDowntime = timings.drain + timings['restore indexes'] + timings.verify;

    const progress = buildProgress(run.doc, await run.store.partitionsOf(), { maxLagSeconds: config.cutover.maxLagSeconds });
    const cleanup = options.keep ? 'staging destination kept (--keep)' : await cleanUp(run);
    if (options.keep) await transition(run, 'aborted', 'rehearsal finished (kept)');
    const sorted = [...lags].sort((a, b) => a - b);
    const pct = (p: number): string => (sorted.length ? `${sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1)} s` : '-');
    const lines = [
      `rehearsal of "${config.name}": ${verification.mismatches.length ? `${verification.mismatches.length} MISMATCHES` : 'destination equals the source as of the frozen point'}`,
      ...Object.entries(timings).map(([step, ms]) => `  ${step.padEnd(18)} ${formatDuration(ms)} (${ms} ms)`),
      `  tail lag           p50 ${pct(0.5)}, p99 ${pct(0.99)} over ${lags.length} batches`,
      `  predicted downtime ${(predictedDowntime / 1000).toFixed(1)} s (drain + index restore + verify; the write block itself takes milliseconds)`,
      `  ${cleanup}`,
    ];
    return {
      command: 'rehearse',
      exitCode: verification.mismatches.length ? 1 : 0,
      summary: lines.join('\n'),
      progress: { ...progress, downtimeSeconds: predictedDowntime / 1000 },
      verification,
      continue: false,
      nextStep: verification.mismatches.length ? 'investigate the mismatches before the real migration' : `the real run: mongo-live-migrate sync --config ${config.file}`,
    };
  } finally {
    await closeRun(run);
  }
};

async function cleanUp(run: Awaited<ReturnType<typeof openRun>>): Promise<string> {
  for (const collection of run.doc.collections) {
    const { db, coll } = splitNamespace(collection.target);
    await run.destination.db(db).collection(coll).drop().catch(() => undefined);
  }
  await run.store.drop();
  return `staging destination cleaned up (${plural(run.doc.collections.length, 'collection')} and the rehearsal's state removed; --keep keeps them)`;
}
