import type { Config } from '../../config/types.js';
import { UserError } from '../../errors.js';
import type { Progress, VerifyReport } from '../../model.js';
import { connectCluster } from '../../mongo/connect.js';
import { runCutoverEngine, VerificationFailed, type CutoverStep } from '../cutover/cutover.js';
import { clearCutoverRequest, handoffWaitMs, requestCutover } from '../handoff.js';
import { settingsOf, type EnginePorts } from '../ports.js';
import { retryTransient, withReconnect } from '../reconnect.js';
import { closeRun, openRun } from '../run.js';
import { StateStore } from '../state/store.js';
import type { PartitionDoc } from '../state/types.js';
import { progressFor } from './progress.js';

/** The drain's own time box, inside the cutover's. */
const DRAIN_TIMEOUT_MS = 300_000;
/** However late the approval came, the lag gets at least this long to come under the threshold. */
const MIN_LAG_WAIT_MS = 30_000;

export interface CutoverProcedureOptions {
  /** With writeBlock none: the user states the applications are stopped. */
  applicationsStopped: boolean;
  /** The whole cutover's time box, most of it the wait for the lag to hold. */
  maxDurationMs: number;
  forceTakeover?: boolean;
}

export type CutoverOutcome =
  | { committed: true; downtimeSeconds: number; verificationSummary: string; verification?: VerifyReport; progress: Progress }
  /** The verification found mismatches: nothing committed, the source stays blocked. */
  | { committed: false; failure: VerificationFailed; progress: Progress };

/**
 * The cutover procedure: asks the running tail slice to hand over (it saves and releases the lease within
 * seconds), takes the lease, runs the gated cutover (resuming at the recorded step after an election or a
 * dropped connection), and withdraws the request however it ends, so tail slices go on when it did not commit.
 */
export async function cutover(config: Config, ports: EnginePorts, options: CutoverProcedureOptions): Promise<CutoverOutcome> {
  const started = Date.now();
  let requestedIn: StateStore | undefined;
  const run = await retryTransient(ports, 'cutover', () =>
    openRun(config, ports, {
      ...(options.forceTakeover ? { forceTakeover: true } : {}),
      waitForHolderMs: handoffWaitMs(settingsOf(ports).leaseTtlMs),
      beforeLease: async (store, doc) => {
        // Refused before any wait: only a tailing migration hands over (and one cutting over resumes).
        if (doc.phase === 'committed') throw new UserError(`migration "${config.name}" is already committed`);
        if (doc.phase !== 'tailing' && doc.phase !== 'cutting-over') {
          throw new UserError(`migration "${config.name}" is ${doc.phase}; cutover needs the copy done and the destination tailing`, 'run `sync` (and `tail`) until status says ready for cutover');
        }
        if (doc.phase !== 'tailing') return;
        await requestCutover(store, ports.runner);
        requestedIn = store;
      },
    }),
  ).catch(async (error: unknown) => {
    // No lease (the slice did not hand over in time): withdraw the request at once, so tail slices go on.
    if (requestedIn) await withdrawRequest(config, ports.runner);
    throw error;
  });
  let partitions: PartitionDoc[] | undefined;
  const onStep = (step: CutoverStep | 'lag-hold'): void => {
    if (!ports.onProgress || !partitions) return;
    ports.onProgress({ ...progressFor(config, run.doc, partitions), step });
  };
  try {
    partitions = await run.store.partitionsOf();
    try {
      // Tails until the lag holds, for as long as the time box allows (less the drain): the lag built up while
      // the approval was pending is caught up here, not refused after a fixed two minutes.
      const lagWaitMs = Math.max(MIN_LAG_WAIT_MS, options.maxDurationMs - DRAIN_TIMEOUT_MS - (Date.now() - started));
      const result = await withReconnect(run, 'cutover', () => runCutoverEngine(run, { applicationsStopped: options.applicationsStopped, lagWaitMs, drainTimeoutMs: DRAIN_TIMEOUT_MS, onStep }));
      const progress = progressFor(config, run.doc, await run.store.partitionsOf());
      return { committed: true, downtimeSeconds: result.downtimeSeconds, verificationSummary: run.doc.cutover?.verification ?? '', ...(result.verification ? { verification: result.verification } : {}), progress };
    } catch (error) {
      if (!(error instanceof VerificationFailed)) throw error;
      return { committed: false, failure: error, progress: progressFor(config, run.doc, await run.store.partitionsOf()) };
    }
  } finally {
    // Committed, failed or given up: tail slices may run again (and have nothing to do once committed).
    await clearCutoverRequest(run.store, ports.runner);
    await closeRun(run);
  }
}

/** Clears this runner's cutover request on a connection of its own (openRun closed its clients when it failed). */
async function withdrawRequest(config: Config, runner: string): Promise<void> {
  const destination = await connectCluster(config.destination.uri, 'destination').catch(() => undefined);
  if (!destination) return; // the request goes stale on its own (cutoverRequestLive)
  try {
    await clearCutoverRequest(new StateStore(destination, config.name), runner);
  } finally {
    await destination.close().catch(() => undefined);
  }
}
