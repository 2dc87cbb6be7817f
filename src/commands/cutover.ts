import { UserError } from '../errors.js';
import { cutover } from '../engine/index.js';
import type { CommandImpl } from './types.js';

/** Without --max-duration: how long the whole cutover may take, most of it waiting for the lag to hold. */
const DEFAULT_MAX_DURATION_MS = 15 * 60_000;

/** cutover --confirm <name>: the human gate is typing the migration's name (or a GitHub environment approval). */
export const runCutover: CommandImpl = async (config, options, ports) => {
  if (options.confirm !== config.name) {
    throw new UserError(
      options.confirm === undefined ? `cutover blocks writes on the source: confirm with --confirm ${config.name}` : `--confirm "${options.confirm}" does not match the migration name "${config.name}"`,
      `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}`,
    );
  }
  const outcome = await cutover(config, ports, {
    applicationsStopped: Boolean(options.applicationsStopped),
    maxDurationMs: options.maxDurationMs ?? DEFAULT_MAX_DURATION_MS,
    ...(options.forceTakeover ? { forceTakeover: true } : {}),
  });
  if (!outcome.committed) {
    return {
      command: 'cutover',
      exitCode: 1,
      summary: `${outcome.failure.message}. ${outcome.failure.hint ?? ''}`,
      progress: outcome.progress,
      verification: outcome.failure.report,
      continue: false,
      nextStep: `mongo-live-migrate abort --config ${config.file} --confirm ${config.name}`,
    };
  }
  const blocked = config.cutover.writeBlock === 'source';
  return {
    command: 'cutover',
    exitCode: 0,
    summary: [
      `cutover of "${config.name}" committed: write downtime ${outcome.downtimeSeconds.toFixed(1)} s; ${outcome.verificationSummary}`,
      'Next steps:',
      '  1. point the applications at the destination connection string and restart them;',
      blocked
        ? '  2. the source stays write-blocked (setUserWriteBlockMode) so nothing can write there by mistake;'
        : '  2. keep the applications away from the source: nothing blocks writes there;',
      blocked ? `  3. to roll back before the applications move: mongo-live-migrate abort --config ${config.file} --confirm ${config.name} (lifts the block).` : '  3. nothing else to undo on the source.',
    ].join('\n'),
    progress: outcome.progress,
    ...(outcome.verification ? { verification: outcome.verification } : {}),
    continue: false,
    nextStep: 'point the applications at the destination',
  };
};
