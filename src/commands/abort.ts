import { abortMigration } from '../engine/index.js';
import { UserError } from '../errors.js';
import { plural } from '../format.js';
import type { CommandImpl } from './types.js';

/**
 * abort: lifts the source write block this migration set, marks the migration aborted, and with
 * --drop-destination removes what the migration created on the destination (its collections, views and
 * state) and nothing else.
 */
export const runAbort: CommandImpl = async (config, options, ports) => {
  const confirmed = options.confirm === config.name;
  if (options.confirm !== undefined && !confirmed) throw new UserError(`--confirm "${options.confirm}" does not match the migration name "${config.name}"`, `mongo-live-migrate abort --config ${config.file} --confirm ${config.name}`);
  // Dropping is never undone: it always needs the name typed, whatever the phase.
  if (options.dropDestination && !confirmed) {
    throw new UserError(`--drop-destination removes every collection migration "${config.name}" created on the destination, and its state: confirm with --confirm ${config.name}`, `mongo-live-migrate abort --config ${config.file} --drop-destination --confirm ${config.name}`);
  }
  const result = await abortMigration(config, ports, {
    dropDestination: Boolean(options.dropDestination),
    forceTakeover: options.forceTakeover,
    authorize: (doc) => {
      // After the commit the destination serves production and the source is write-blocked on purpose: lifting
      // the block or dropping the destination then takes the name typed, like the cutover itself.
      if (doc.phase !== 'committed' || confirmed) return;
      throw new UserError(
        `migration "${config.name}" is committed: abort would ${doc.writeBlock && !doc.writeBlock.liftedAt ? 'lift the source write block while the applications may already write to the destination' : 'mark the committed migration aborted'}; confirm with --confirm ${config.name}`,
        `mongo-live-migrate abort --config ${config.file} --confirm ${config.name}`,
      );
    },
    alreadyAbortedHint: `add --drop-destination --confirm ${config.name} to remove what it created`,
  });
  const notes = result.liftedWriteBlock ? ['source write block lifted'] : [];
  if (result.dropped) {
    notes.push(`dropped ${plural(result.dropped.length, 'destination collection')} and the migration's state`);
    return { command: 'abort', exitCode: 0, summary: `migration "${config.name}" aborted: ${notes.join('; ')}`, continue: false, nextStep: `mongo-live-migrate sync --config ${config.file} (starts afresh)` };
  }
  return {
    command: 'abort',
    exitCode: 0,
    summary: `migration "${config.name}" aborted${notes.length ? `: ${notes.join('; ')}` : ''}; the destination is left as it is`,
    ...(result.progress ? { progress: result.progress } : {}),
    continue: false,
    nextStep: `mongo-live-migrate abort --config ${config.file} --drop-destination --confirm ${config.name} (to remove what it created)`,
  };
};
