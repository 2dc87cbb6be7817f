import { UserError } from '../errors.js';
import { HANDOFF_WAIT_MS, StateStore, VerificationFailed, buildProgress, clearCutoverRequest, closeRun, openRun, requestCutover, retryTransient, runCutoverEngine, withReconnect, type PartitionDoc } from '../engine/index.js';
import type { Config } from '../config/types.js';
import { connectCluster } from '../mongo/connect.js';
import type { CommandImpl } from './types.js';

const DRAIN_TIMEOUT_MS = 300_000;
/** Without --max-duration: how long the whole cutover may take, most of it waiting for the lag to hold. */
const DEFAULT_MAX_DURATION_MS = 15 * 60_000;
const MIN_LAG_WAIT_MS = 30_000;

/** cutover --confirm <name>: the human gate is typing the migration's name (or a GitHub environment approval). */
export const runCutover: CommandImpl = async (config, options, ports) => {
  if (options.confirm !== config.name) {
    throw new UserError(
      options.confirm === undefined ? `cutover blocks writes on the source: confirm with --confirm ${config.name}` : `--confirm "${options.confirm}" does not match the migration name "${config.name}"`,
      `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}`,
    );
  }
  const started = Date.now();
  const maxDurationMs = options.maxDurationMs ?? DEFAULT_MAX_DURATION_MS;
  // The handoff: the request makes the running tail slice save and release the lease within seconds.
  let requestedIn: StateStore | undefined;
  const run = await retryTransient(ports, 'cutover', () =>
    openRun(config, ports, {
      forceTakeover: options.forceTakeover,
      waitForHolderMs: HANDOFF_WAIT_MS,
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
  const onStep = (step: string): void => {
    if (!ports.onProgress || !partitions) return;
    ports.onProgress({ ...buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds }), step });
  };
  try {
    partitions = await run.store.partitionsOf();
    try {
      // Tails until the lag holds, for as long as its own time box allows (less the drain): the lag built up
      // while the approval was pending is caught up here, not refused after a fixed two minutes.
      const lagWaitMs = Math.max(MIN_LAG_WAIT_MS, maxDurationMs - DRAIN_TIMEOUT_MS - (Date.now() - started));
      // An election or a dropped connection mid-cutover resumes at the recorded step (each step is idempotent).
      const result = await withReconnect(run, 'cutover', () => runCutoverEngine(run, { applicationsStopped: Boolean(options.applicationsStopped), lagWaitMs, drainTimeoutMs: DRAIN_TIMEOUT_MS, onStep }));
      const progress = buildProgress(run.doc, await run.store.partitionsOf(), { maxLagSeconds: config.cutover.maxLagSeconds });
      const blocked = config.cutover.writeBlock === 'source';
      return {
        command: 'cutover',
        exitCode: 0,
        summary: [
          `cutover of "${config.name}" committed: write downtime ${result.downtimeSeconds.toFixed(1)} s; ${run.doc.cutover?.verification ?? ''}`,
          'Next steps:',
          '  1. point the applications at the destination connection string and restart them;',
          blocked
            ? '  2. the source stays write-blocked (setUserWriteBlockMode) so nothing can write there by mistake;'
            : '  2. keep the applications away from the source: nothing blocks writes there;',
          blocked ? `  3. to roll back before the applications move: mongo-live-migrate abort --config ${config.file} --confirm ${config.name} (lifts the block).` : '  3. nothing else to undo on the source.',
        ].join('\n'),
        progress,
        ...(result.verification ? { verification: result.verification } : {}),
        continue: false,
        nextStep: 'point the applications at the destination',
      };
    } catch (error) {
      if (!(error instanceof VerificationFailed)) throw error;
      const progress = buildProgress(run.doc, await run.store.partitionsOf());
      return {
        command: 'cutover',
        exitCode: 1,
        summary: `${error.message}. ${error.hint ?? ''}`,
        progress,
        verification: error.report,
        continue: false,
        nextStep: `mongo-live-migrate abort --config ${config.file} --confirm ${config.name}`,
      };
    }
  } finally {
    // Committed, failed or given up: tail slices may run again (and have nothing to do once committed).
    await clearCutoverRequest(run.store, ports.runner);
    await closeRun(run);
  }
};

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
