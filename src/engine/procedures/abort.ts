import type { Config } from '../../config/types.js';
import { UserError } from '../../errors.js';
import type { Progress } from '../../model.js';
import { setSourceWriteBlock } from '../cutover/write-block.js';
import type { EnginePorts } from '../ports.js';
import { closeRun, openRun, transition } from '../run.js';
import { dropMigrationTargets } from '../target-catalog.js';
import type { MigrationDoc } from '../state/types.js';
import { progressFor } from './progress.js';

export interface AbortOptions {
  /** Also remove what the migration created on the destination (its collections, views and state). */
  dropDestination: boolean;
  forceTakeover?: boolean;
  /**
   * The edge's confirmation rule, run on the state under the lease before anything changes: throws to refuse
   * (a committed migration is only aborted with its name typed).
   */
  authorize: (doc: MigrationDoc) => void;
  /** The hint when there is nothing left to abort (the edge knows how to say "drop it"). */
  alreadyAbortedHint: string;
}

export interface AbortResult {
  /** The source write block this migration set was in force and is now lifted. */
  liftedWriteBlock: boolean;
  /** With dropDestination: the destination namespaces dropped (the state is gone too, so no progress). */
  dropped?: string[];
  progress?: Progress;
}

/**
 * Lifts the source write block this migration set, then either marks the migration aborted (the destination
 * is left as it is) or, with dropDestination, removes what the migration created on the destination and
 * nothing else.
 */
export async function abortMigration(config: Config, ports: EnginePorts, options: AbortOptions): Promise<AbortResult> {
  const run = await openRun(config, ports, { forceTakeover: options.forceTakeover });
  try {
    options.authorize(run.doc);
    let liftedWriteBlock = false;
    if (run.doc.writeBlock && !run.doc.writeBlock.liftedAt) {
      await setSourceWriteBlock(run.source, false);
      await run.store.update(ports.runner, { 'writeBlock.liftedAt': new Date() });
      liftedWriteBlock = true;
    }
    if (options.dropDestination) {
      const dropped = await dropMigrationTargets(run.destination, run.doc.collections.map((c) => c.target));
      await run.lease.release();
      await run.store.drop();
      return { liftedWriteBlock, dropped };
    }
    if (run.doc.phase === 'aborted' && !liftedWriteBlock) throw new UserError(`migration "${config.name}" is already aborted`, options.alreadyAbortedHint);
    await transition(run, 'aborted', liftedWriteBlock ? 'source write block lifted' : 'aborted');
    return { liftedWriteBlock, progress: progressFor(config, run.doc, await run.store.partitionsOf()) };
  } finally {
    await closeRun(run);
  }
}
