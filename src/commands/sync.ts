import { buildProgress } from '../engine/progress.js';
import { formatDuration, plural } from '../format.js';
import { retryTransient, withReconnect } from '../engine/reconnect.js';
import { closeRun, openRun } from '../engine/run.js';
import { runSyncEngine } from '../engine/sync.js';
import type { CommandImpl } from './types.js';

export const runSync: CommandImpl = async (config, options, outerPorts) => {
  // --max-duration (CLI) / max-duration (action) time-boxes a sync run as it does a tail slice: when it
  // expires the run stops as on SIGINT (copied partitions and the capture position are saved) and the next
  // sync continues from there. Without it, sync runs until the copy is done and caught up.
  const ports = options.maxDurationMs === undefined ? outerPorts : { ...outerPorts, signal: AbortSignal.any([outerPorts.signal, AbortSignal.timeout(options.maxDurationMs)]) };
  const run = await retryTransient(ports, 'sync', () => openRun(config, ports, { create: true, forceTakeover: options.forceTakeover }));
  try {
    const result = await withReconnect(run, 'sync', () => runSyncEngine(run));
    const progress = buildProgress(run.doc, await retryTransient(ports, 'sync', () => run.store.partitionsOf()), { maxLagSeconds: config.cutover.maxLagSeconds });
    if (!result.finished) {
      return {
        command: 'sync',
        exitCode: 0,
        summary: `sync of "${config.name}" paused in ${run.doc.phase}${run.doc.step ? `/${run.doc.step}` : ''}; run sync again to continue where it stopped`,
        progress,
        continue: true,
        nextStep: `mongo-live-migrate sync --config ${config.file}`,
      };
    }
    return {
      command: 'sync',
      exitCode: 0,
      summary: `sync of "${config.name}" done: ${plural(progress.totals.documentsCopied, 'document')} copied, ${plural(run.doc.eventsApplied, 'change')} applied, lag ${formatDuration(result.lagSeconds ?? 0)}`,
      progress,
      continue: !progress.readyForCutover,
      nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
    };
  } finally {
    await closeRun(run);
  }
};
