import type { MigrationRun } from './run.js';
import { withinShortBound } from '../mongo/stall-bound.js';
import type { StateStore } from './state/store.js';
import type { MigrationDoc } from './state/types.js';

/**
 * The handoff from tail slices to the cutover. Replication must go on until the cutover starts (a reviewer may
 * approve hours after readiness), and then the cutover needs the lease the running tail slice holds. So the
 * approved cutover records a request in the state, the tail slice sees it within seconds, saves its position
 * and releases the lease, and the cutover (waiting for that lease) takes over and tails until the lag holds.
 */

/** How long the cutover waits for the running slice to hand over the lease (at least two lease periods). */
export function handoffWaitMs(leaseTtlMs: number): number {
  return Math.max(60_000, 2 * leaseTtlMs);
}
/** How often a tail slice looks for a request. */
const POLL_MS = 2_000;

/** Records the cutover's request; no lease needed (the slice holding it is what the request is for). */
export async function requestCutover(store: StateStore, runner: string): Promise<void> {
  await store.migrations.updateOne({ _id: store.name }, { $set: { cutoverRequest: { by: runner, at: new Date() } } }, { writeConcern: { w: 'majority' } });
}

/** Clears the request if it is still this runner's (the cutover ended: committed, failed or gave up). */
export async function clearCutoverRequest(store: StateStore, runner: string): Promise<void> {
  await store.migrations.updateOne({ _id: store.name, 'cutoverRequest.by': runner }, { $unset: { cutoverRequest: '' } }, { writeConcern: { w: 'majority' } }).catch(() => undefined);
}

/**
 * Whether a request stands: its cutover holds an unexpired lease, or it was made recently enough that its
 * cutover is still waiting for the lease. A cutover that died leaves a request that goes stale on its own.
 */
export function cutoverRequestLive(doc: MigrationDoc, leaseTtlMs: number, now = Date.now()): boolean {
  const request = doc.cutoverRequest;
  if (!request) return false;
  if (doc.lease?.owner === request.by && doc.lease.expiresAt.getTime() > now) return true;
  return now - request.at.getTime() < handoffWaitMs(leaseTtlMs) + leaseTtlMs;
}

/** Polls for a request while a slice runs; `requested()` turns true once one stands. Stop it when done. */
export function watchForCutover(run: MigrationRun): { requested: () => boolean; by: () => string | undefined; stop: () => void } {
  let by: string | undefined;
  const timer = setInterval(() => {
    void withinShortBound('looking for a cutover request', (signal) => run.store.migrations.findOne({ _id: run.store.name }, { projection: { cutoverRequest: 1, lease: 1 }, signal }))
      .then((doc) => {
        if (doc && cutoverRequestLive(doc as MigrationDoc, run.lease.ttlMs)) by = doc.cutoverRequest?.by;
      })
      .catch(() => undefined); // a failed look is retried on the next tick
  }, POLL_MS);
  timer.unref();
  return { requested: () => by !== undefined, by: () => by, stop: () => clearInterval(timer) };
}
