import { syncSlice } from '../engine/index.js';
import { formatCount, formatDuration, plural } from '../format.js';
import { sliceDurationMs } from './max-duration.js';
import type { CommandImpl } from './types.js';

/**
 * sync, as one time-boxed slice: the copy, replay and catch-up all stop at --max-duration (default
 * tail.maxDuration) with their place saved, so a copy longer than a GitHub job runs as several jobs.
 */
export const runSync: CommandImpl = async (config, options, ports) => {
  const durationMs = sliceDurationMs(config, options);
  const { finished, lagSeconds, stoppedBy, doc, progress } = await syncSlice(config, ports, { durationMs, forceTakeover: options.forceTakeover });
  if (!finished) {
    const why = stoppedBy === 'time-box' ? `after its max-duration (${formatDuration(durationMs / 1000)})` : stoppedBy === 'signal' ? 'stopped by a signal' : 'before catching up';
    return {
      command: 'sync',
      exitCode: 0,
      summary: `sync of "${config.name}" paused in ${doc.phase}${doc.step ? `/${doc.step}` : ''} ${why}, ${formatCount(progress.totals.documentsCopied)}/${plural(progress.totals.documentsTotal, 'document')} copied; its place is saved: the next sync continues where it stopped`,
      progress,
      continue: true,
      nextStep: `mongo-live-migrate sync --config ${config.file}`,
    };
  }
  return {
    command: 'sync',
    exitCode: 0,
    summary: `sync of "${config.name}" done: ${plural(progress.totals.documentsCopied, 'document')} copied, ${plural(doc.eventsApplied, 'change')} applied, lag ${formatDuration(lagSeconds ?? 0)}`,
    progress,
    // Tailing goes on after the copy, ready or not: replication continues until the cutover starts.
    continue: true,
    nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
  };
};
