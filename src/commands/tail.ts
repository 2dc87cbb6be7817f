import { tailSlice } from '../engine/index.js';
import { formatDuration, plural } from '../format.js';
import { sliceDurationMs } from './max-duration.js';
import { describeVerification } from './verification-summary.js';
import type { CommandImpl } from './types.js';

/**
 * Applies live changes for a time-boxed slice, then saves the position and reports readiness. Slices go on
 * while ready (a reviewer may take hours to approve the cutover) until the cutover asks for the migration:
 * then the running slice hands over within seconds, and later slices leave it alone.
 */
export const runTail: CommandImpl = async (config, options, ports) => {
  const result = await tailSlice(config, ports, { durationMs: sliceDurationMs(config, options), forceTakeover: options.forceTakeover });
  if (result.kind === 'left-to-cutover') {
    // A slice started while the cutover has the migration (or after the commit): nothing to do, and no more slices.
    const { doc } = result;
    const state = doc.phase === 'tailing' ? `a cutover was requested by ${doc.cutoverRequest?.by ?? 'another run'}` : `the migration is ${doc.phase}`;
    return {
      command: 'tail',
      exitCode: 0,
      summary: `tail of "${config.name}" did not start: ${state}; the cutover tails the last changes itself`,
      ...(result.progress ? { progress: result.progress } : {}),
      continue: false,
      nextStep: doc.phase === 'committed' ? 'point the applications at the destination' : 'wait for the cutover to finish',
    };
  }
  const { progress } = result;
  const ran = formatDuration(result.elapsedMs / 1000);
  const details: string[] = [];
  if (result.deltas.applied > 0) details.push(`${plural(result.deltas.applied, 'update')} from the update's own delta${result.deltas.missed ? `, ${result.deltas.missed} of them read back from the source` : ''}`);
  if (result.grouped.documents > 0) details.push(`${plural(result.grouped.documents, 'document')} written by ${plural(result.grouped.statements, 'statement')}`);
  const lag = `${plural(result.applied, 'change')} applied${details.length ? ` (${details.join('; ')})` : ''}, lag ${formatDuration(result.lagSeconds)}`;
  if (result.handedOverTo !== undefined) {
    return {
      command: 'tail',
      exitCode: 0,
      summary: `tail of "${config.name}" handed over to the cutover (${result.handedOverTo}) after ${ran}: ${lag}; its position is saved and the cutover tails from it`,
      progress,
      continue: false,
      nextStep: 'wait for the cutover to finish',
    };
  }
  const why = result.stoppedBySignal ? 'stopped by a signal' : `ran ${ran}`;
  return {
    command: 'tail',
    exitCode: 0,
    summary: `tail of "${config.name}" ${why}: ${lag}; ${describeVerification(progress.verification)}${progress.readyForCutover ? 'ready for cutover (tail slices go on until it starts)' : `not ready (lag must be ≤ ${config.cutover.maxLagSeconds} s${progress.verification ? ', verification complete without differences' : ''})`}`,
    progress,
    // Replication goes on while ready: it stops only when the cutover takes over.
    continue: true,
    nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
  };
};
