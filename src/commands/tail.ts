import { formatDuration, plural } from '../format.js';
import { OperationError, UserError } from '../errors.js';
import { buildProgress } from '../engine/progress.js';
import { retryTransient, withReconnect } from '../engine/reconnect.js';
import { closeRun, openRun } from '../engine/run.js';
import { tailLoop } from '../engine/tail.js';
import type { CommandImpl } from './types.js';

/** Applies live changes for a time-boxed slice, then saves the position and reports readiness. */
export const runTail: CommandImpl = async (config, options, ports) => {
  const run = await retryTransient(ports, 'tail', () => openRun(config, ports, { forceTakeover: options.forceTakeover }));
  try {
    const { doc } = run;
    if (doc.resyncRequired) {
      // Say why, not only that the phase is wrong: the saved position is gone and tailing would leave a gap.
      throw new OperationError(doc.error ?? `migration "${config.name}" lost its position in the source oplog and needs a re-sync`, `re-sync: run \`mongo-live-migrate abort --config ${config.file} --drop-destination\`, then \`sync\``);
    }
    if (doc.phase !== 'tailing') {
      throw new UserError(`migration "${config.name}" is ${doc.phase}${doc.step ? `/${doc.step}` : ''}, not tailing`, doc.phase === 'syncing' || doc.phase === 'created' ? 'run `sync` until it finishes first' : 'see `status`');
    }
    const durationMs = options.maxDurationMs ?? config.tail.maxDurationMs;
    // Copy progress no longer changes while tailing: read the partitions once for the live progress.
    const partitions = await retryTransient(ports, 'tail', () => run.store.partitionsOf());
    const started = Date.now();
    let lastReport = 0;
    const result = await withReconnect(run, 'tail', () =>
      tailLoop(run, {
        deadline: started + durationMs,
        onBatch: () => {
          if (Date.now() - lastReport < 1000) return;
          lastReport = Date.now();
          ports.onProgress?.(buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds }));
        },
      }),
    );
    const progress = buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds });
    const why = ports.signal.aborted ? 'stopped by a signal' : `ran ${formatDuration((Date.now() - started) / 1000)}`;
    return {
      command: 'tail',
      exitCode: 0,
      summary: `tail of "${config.name}" ${why}: ${plural(result.applied, 'change')} applied, lag ${formatDuration(result.lagSeconds)}; ${progress.readyForCutover ? 'ready for cutover' : `not ready (lag must be ≤ ${config.cutover.maxLagSeconds} s)`}`,
      progress,
      continue: !progress.readyForCutover,
      nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
    };
  } finally {
    await closeRun(run);
  }
};
