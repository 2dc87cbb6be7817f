import { buildProgress } from '../engine/progress.js';
import { formatCount, formatDuration, plural } from '../format.js';
import { retryTransient, withReconnect } from '../engine/reconnect.js';
import { closeRun, openRun } from '../engine/run.js';
import { startSlice } from '../engine/slice.js';
import { runSyncEngine } from '../engine/sync.js';
import type { CommandImpl } from './types.js';

/**
 * sync, as one time-boxed slice: the copy, replay and catch-up all stop at --max-duration (default
 * tail.maxDuration) with their place saved, so a copy longer than a GitHub job runs as several jobs.
 */
export const runSync: CommandImpl = async (config, options, commandPorts) => {
  const durationMs = options.maxDurationMs ?? config.tail.maxDurationMs;
  const slice = startSlice(commandPorts.signal, durationMs);
  const ports = { ...commandPorts, signal: slice.signal };
  try {
    const run = await retryTransient(ports, 'sync', () => openRun(config, ports, { create: true, forceTakeover: options.forceTakeover }));
    try {
      const result = await withReconnect(run, 'sync', () => runSyncEngine(run));
      const progress = buildProgress(run.doc, await retryTransient(ports, 'sync', () => run.store.partitionsOf()), { maxLagSeconds: config.cutover.maxLagSeconds });
      if (!result.finished) {
        const why = slice.timedOut() ? `after its max-duration (${formatDuration(durationMs / 1000)})` : commandPorts.signal.aborted ? 'stopped by a signal' : 'before catching up';
        return {
          command: 'sync',
          exitCode: 0,
          summary: `sync of "${config.name}" paused in ${run.doc.phase}${run.doc.step ? `/${run.doc.step}` : ''} ${why}, ${formatCount(progress.totals.documentsCopied)}/${plural(progress.totals.documentsTotal, 'document')} copied; its place is saved: the next sync continues where it stopped`,
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
        // Tailing goes on after the copy, ready or not: replication continues until the cutover starts.
        continue: true,
        nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
      };
    } finally {
      await closeRun(run);
    }
  } finally {
    slice.dispose();
  }
};
