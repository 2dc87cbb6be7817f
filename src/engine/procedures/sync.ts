import type { Config } from '../../config/types.js';
import type { Progress } from '../../model.js';
import type { EnginePorts } from '../ports.js';
import { retryTransient, withReconnect } from '../reconnect.js';
import { closeRun, openRun } from '../run.js';
import { startSlice } from '../slice.js';
import type { MigrationDoc } from '../state/types.js';
import { runSyncEngine } from '../sync.js';
import { progressFor } from './progress.js';

export interface SyncSliceOptions {
  /** How long this slice lasts before it saves its place and returns (the edge's max-duration policy). */
  durationMs: number;
  forceTakeover?: boolean;
}

export interface SyncSliceResult {
  /** True once the copy is done and caught up (phase tailing). */
  finished: boolean;
  lagSeconds: number | null;
  /** What ended an unfinished slice: its time box, a signal, or neither (it stopped before catching up). */
  stoppedBy: 'time-box' | 'signal' | null;
  doc: MigrationDoc;
  progress: Progress;
}

/**
 * sync, as one time-boxed slice: the copy, replay and catch-up all stop at the deadline with their place
 * saved, so a copy longer than a GitHub job runs as several jobs.
 */
export async function syncSlice(config: Config, commandPorts: EnginePorts, options: SyncSliceOptions): Promise<SyncSliceResult> {
  const slice = startSlice(commandPorts.signal, options.durationMs);
  const ports = { ...commandPorts, signal: slice.signal };
  try {
    const run = await retryTransient(ports, 'sync', () => openRun(config, ports, { create: true, forceTakeover: options.forceTakeover }));
    try {
      const result = await withReconnect(run, 'sync', () => runSyncEngine(run));
      const progress = progressFor(config, run.doc, await retryTransient(ports, 'sync', () => run.store.partitionsOf()));
      progress.warnings = [...progress.warnings, ...(run.majority?.warnings() ?? [])];
      const stoppedBy = result.finished ? null : slice.timedOut() ? 'time-box' : commandPorts.signal.aborted ? 'signal' : null;
      return { finished: result.finished, lagSeconds: result.lagSeconds, stoppedBy, doc: run.doc, progress };
    } finally {
      await closeRun(run);
    }
  } finally {
    slice.dispose();
  }
}
