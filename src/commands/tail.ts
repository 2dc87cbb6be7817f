import { formatDuration, plural } from '../format.js';
import { OperationError, UserError } from '../errors.js';
import { cutoverRequestLive, watchForCutover } from '../engine/handoff.js';
import { headroomWarning, oplogHeadroomSeconds } from '../engine/headroom.js';
import { buildProgress } from '../engine/progress.js';
import { retryTransient, withReconnect } from '../engine/reconnect.js';
import { closeRun, openRun } from '../engine/run.js';
import type { MigrationDoc, PartitionDoc } from '../engine/state/types.js';
import { tailLoop } from '../engine/tail.js';
import { readVerificationProgress } from '../engine/verify/continuous/coverage.js';
import { ContinuousVerifier } from '../engine/verify/continuous/verifier.js';
import { describeVerification } from './verification-summary.js';
import type { CommandImpl, CommandOptions } from './types.js';
import type { Config } from '../config/types.js';
import type { CommandOutcome } from '../report/model.js';

/** Thrown before the lease is taken when the cutover has the migration: the slice ends cleanly instead. */
class LeftToCutover extends Error {
  constructor(readonly doc: MigrationDoc, readonly partitions?: PartitionDoc[]) {
    super('left to the cutover');
  }
}

/**
 * Applies live changes for a time-boxed slice, then saves the position and reports readiness. Slices go on
 * while ready (a reviewer may take hours to approve the cutover) until the cutover asks for the migration:
 * then the running slice hands over within seconds, and later slices leave it alone.
 */
export const runTail: CommandImpl = async (config, options, ports) => {
  let run;
  try {
    run = await retryTransient(ports, 'tail', () =>
      openRun(config, ports, {
        forceTakeover: options.forceTakeover,
        beforeLease: async (store, doc) => {
          if (cutoverHasIt(doc)) throw new LeftToCutover(doc, await store.partitionsOf());
        },
        // A cutover that took the lease a moment after the check above: leave, rather than wait and fail.
        leaseStopIf: (doc) => (cutoverHasIt(doc) ? new LeftToCutover(doc) : undefined),
      }),
    );
  } catch (error) {
    if (error instanceof LeftToCutover) return leftToCutover(config, error.doc, error.partitions);
    throw error;
  }
  try {
    const { doc } = run;
    if (doc.resyncRequired) {
      // Say why, not only that the phase is wrong: the saved position is gone and tailing would leave a gap.
      throw new OperationError(doc.error ?? `migration "${config.name}" lost its position in the source oplog and needs a re-sync`, `re-sync: run \`mongo-live-migrate abort --config ${config.file} --drop-destination --confirm ${config.name}\`, then \`sync\``);
    }
    if (doc.phase !== 'tailing') {
      throw new UserError(`migration "${config.name}" is ${doc.phase}${doc.step ? `/${doc.step}` : ''}, not tailing`, doc.phase === 'syncing' || doc.phase === 'created' ? 'run `sync` until it finishes first' : 'see `status`');
    }
    return await tailSlice(run, config, options, ports);
  } finally {
    await closeRun(run);
  }
};

async function tailSlice(run: Awaited<ReturnType<typeof openRun>>, config: Config, options: CommandOptions, ports: Parameters<CommandImpl>[2]): Promise<CommandOutcome> {
  const durationMs = options.maxDurationMs ?? config.tail.maxDurationMs;
  // Copy progress no longer changes while tailing: read the partitions once for the live progress.
  const partitions = await retryTransient(ports, 'tail', () => run.store.partitionsOf());
  const started = Date.now();
  let lastReport = 0;
  const cutover = watchForCutover(run);
  let lag = 0;
  // Beside the tail, in the same process: compares partitions and rechecks the queue, throttled by the lag.
  const verifier = config.cutover.verify === 'hash' ? ContinuousVerifier.start(run, { lag: () => lag, pauseAboveLagSeconds: config.cutover.maxLagSeconds / 2 }) : undefined;
  try {
    const result = await withReconnect(run, 'tail', () =>
      tailLoop(run, {
        deadline: started + durationMs,
        onBatch: (seconds) => {
          lag = seconds;
          if (Date.now() - lastReport < 1000) return;
          lastReport = Date.now();
          ports.onProgress?.(buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds }));
        },
        shouldStop: cutover.requested,
      }),
    );
    await verifier?.stop();
    run.doc = (await run.store.get())!;
    const headroom = await oplogHeadroomSeconds(run.source, run.doc).catch(() => null);
    const verification = verifier ? await readVerificationProgress(run.store, run.doc, config.cutover.maxLagSeconds) : undefined;
    const progress = buildProgress(run.doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds, oplogHeadroomSeconds: headroom, ...(verification ? { verification } : {}) });
    const warning = headroomWarning(headroom, durationMs);
    if (warning) progress.warnings = [...progress.warnings, warning];
    const applied = `${plural(result.applied, 'change')} applied, lag ${formatDuration(result.lagSeconds)}`;
    if (cutover.requested()) {
      return {
        command: 'tail',
        exitCode: 0,
        summary: `tail of "${config.name}" handed over to the cutover (${cutover.by()}) after ${formatDuration((Date.now() - started) / 1000)}: ${applied}; its position is saved and the cutover tails from it`,
        progress,
        continue: false,
        nextStep: 'wait for the cutover to finish',
      };
    }
    const why = ports.signal.aborted ? 'stopped by a signal' : `ran ${formatDuration((Date.now() - started) / 1000)}`;
    return {
      command: 'tail',
      exitCode: 0,
      summary: `tail of "${config.name}" ${why}: ${applied}; ${describeVerification(progress.verification)}${progress.readyForCutover ? 'ready for cutover (tail slices go on until it starts)' : `not ready (lag must be ≤ ${config.cutover.maxLagSeconds} s${progress.verification ? ', verification complete without differences' : ''})`}`,
      progress,
      // Replication goes on while ready: it stops only when the cutover takes over.
      continue: true,
      nextStep: progress.readyForCutover ? `mongo-live-migrate cutover --config ${config.file} --confirm ${config.name}` : `mongo-live-migrate tail --config ${config.file}`,
    };
  } finally {
    await verifier?.stop();
    cutover.stop();
  }
}

function cutoverHasIt(doc: MigrationDoc): boolean {
  return doc.phase === 'cutting-over' || doc.phase === 'committed' || (doc.phase === 'tailing' && cutoverRequestLive(doc));
}

/** A slice started while the cutover has the migration (or after the commit): nothing to do, and no more slices. */
function leftToCutover(config: Config, doc: MigrationDoc, partitions: PartitionDoc[] | undefined): CommandOutcome {
  const state = doc.phase === 'tailing' ? `a cutover was requested by ${doc.cutoverRequest?.by ?? 'another run'}` : `the migration is ${doc.phase}`;
  return {
    command: 'tail',
    exitCode: 0,
    summary: `tail of "${config.name}" did not start: ${state}; the cutover tails the last changes itself`,
    // Without the partitions (found while waiting for the lease) the copy figures would read 0: left out.
    ...(partitions ? { progress: buildProgress(doc, partitions, { maxLagSeconds: config.cutover.maxLagSeconds }) } : {}),
    continue: false,
    nextStep: doc.phase === 'committed' ? 'point the applications at the destination' : 'wait for the cutover to finish',
  };
}
