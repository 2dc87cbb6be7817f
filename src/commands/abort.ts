import { plural } from '../format.js';
import { UserError } from '../errors.js';
import { setSourceWriteBlock } from '../engine/cutover/write-block.js';
import { splitNamespace } from '../namespaces.js';
import { buildProgress } from '../engine/progress.js';
import { closeRun, openRun, transition } from '../engine/run.js';
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
  const run = await openRun(config, ports, { forceTakeover: options.forceTakeover });
  try {
    // After the commit the destination serves production and the source is write-blocked on purpose: lifting
    // the block or dropping the destination then takes the name typed, like the cutover itself.
    if (run.doc.phase === 'committed' && !confirmed) {
      throw new UserError(
        `migration "${config.name}" is committed: abort would ${run.doc.writeBlock && !run.doc.writeBlock.liftedAt ? 'lift the source write block while the applications may already write to the destination' : 'mark the committed migration aborted'}; confirm with --confirm ${config.name}`,
        `mongo-live-migrate abort --config ${config.file} --confirm ${config.name}`,
      );
    }
    const notes: string[] = [];
    if (run.doc.writeBlock && !run.doc.writeBlock.liftedAt) {
      await setSourceWriteBlock(run.source, false);
      await run.store.update(ports.runner, { 'writeBlock.liftedAt': new Date() });
      notes.push('source write block lifted');
    }
    if (options.dropDestination) {
      const dropped: string[] = [];
      for (const collection of run.doc.collections) {
        const { db, coll } = splitNamespace(collection.target);
        const gone = await run.destination.db(db).collection(coll).drop().catch((error: { code?: number }) => {
          if (error.code === 26) return false;
          throw error;
        });
        if (gone) dropped.push(collection.target);
      }
      await run.lease.release();
      await run.store.drop();
      notes.push(`dropped ${plural(dropped.length, 'destination collection')} and the migration's state`);
      return { command: 'abort', exitCode: 0, summary: `migration "${config.name}" aborted: ${notes.join('; ')}`, continue: false, nextStep: `mongo-live-migrate sync --config ${config.file} (starts afresh)` };
    }
    if (run.doc.phase === 'aborted' && !notes.length) throw new UserError(`migration "${config.name}" is already aborted`, `add --drop-destination --confirm ${config.name} to remove what it created`);
    await transition(run, 'aborted', notes.join('; ') || 'aborted');
    const progress = buildProgress(run.doc, await run.store.partitionsOf());
    return {
      command: 'abort',
      exitCode: 0,
      summary: `migration "${config.name}" aborted${notes.length ? `: ${notes.join('; ')}` : ''}; the destination is left as it is`,
      progress,
      continue: false,
      nextStep: `mongo-live-migrate abort --config ${config.file} --drop-destination --confirm ${config.name} (to remove what it created)`,
    };
  } finally {
    await closeRun(run);
  }
};
