import type { Config } from '../../config/types.js';
import type { Progress } from '../../model.js';
import type { EnginePorts } from '../ports.js';
import { rehearseEngine, type RehearsalResult } from '../rehearse/rehearse.js';
import { closeRun, openRun, transition } from '../run.js';
import { dropMigrationTargets } from '../target-catalog.js';
import { progressFor } from './progress.js';

export interface RehearseOptions {
  /** How long to tail, with continuous verification, before the freeze. */
  tailMs: number;
  /** Keep the staging destination (its collections and the rehearsal's state) afterwards. */
  keep: boolean;
  forceTakeover?: boolean;
}

export interface RehearseResult extends RehearsalResult {
  progress: Progress;
  /** Without keep: the staging namespaces dropped (the rehearsal's state is gone too). */
  dropped?: string[];
}

/**
 * A whole migration against a staging destination (engine/rehearse/rehearse.ts), then the staging destination
 * cleaned up: the namespaces the rehearsal created and its state. Kept with `keep`, marked aborted so that
 * no tail slice picks it up.
 */
export async function rehearse(config: Config, ports: EnginePorts, options: RehearseOptions): Promise<RehearseResult> {
  const run = await openRun(config, ports, { create: true, ...(options.forceTakeover ? { forceTakeover: true } : {}) });
  try {
    const result = await rehearseEngine(run, { tailMs: options.tailMs });
    const progress = { ...progressFor(config, run.doc, await run.store.partitionsOf()), downtimeSeconds: result.predictedDowntimeSeconds };
    if (options.keep) {
      await transition(run, 'aborted', 'rehearsal finished (kept)');
      return { ...result, progress };
    }
    const dropped = await dropMigrationTargets(run.destination, run.doc.collections.map((c) => c.target));
    await run.lease.release();
    await run.store.drop();
    return { ...result, progress, dropped };
  } finally {
    await closeRun(run);
  }
}
