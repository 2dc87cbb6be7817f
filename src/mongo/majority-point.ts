import type { Side } from './connect.js';
import type { HelloReply } from './introspection.js';
import { formatDuration } from '../format.js';

/**
 * How far the majority commit point may trail the primary's last write. The migration reads the source and
 * writes its copy and state on the destination only as far as a majority holds (change streams hand out
 * majority-committed events; the copy and the position wait for a majority of the destination), so a stuck
 * majority point stops it without an error: the copy hangs, the tail sees no change. A healthy set trails by well
 * under a second; hello reports whole seconds, and an idle primary writes a no-op every 10 s.
 */
export const MAJORITY_WARN_BEHIND_S = 10;
export const MAJORITY_FAIL_BEHIND_S = 60;

/** Seconds the majority commit point trails the last write, from the primary's hello; undefined when it does not say. */
export function majorityBehindSeconds(reply: HelloReply): number | undefined {
  if (!reply.lastWriteDate || !reply.majorityWriteDate) return undefined;
  return Math.max(0, (reply.lastWriteDate.getTime() - reply.majorityWriteDate.getTime()) / 1000);
}

/** What a majority point that does not move means for this side of the migration. */
export function majorityStallEffect(side: Side): string {
  return side === 'source'
    ? 'the change stream hands out only what a majority holds, so the migration sees none of the newer changes'
    : 'the copy and every state write wait for a majority of the destination to acknowledge them';
}

/**
 * "the majority commit point of the destination is 1m 15s behind its last write: <what waits on it>"; looking back
 * over a run, "was up to 1m 15s behind its last write during this run: …".
 */
export function majorityTrailing(side: Side, behindSeconds: number, over: 'now' | 'run' = 'now'): string {
  const how = over === 'now' ? `is ${formatDuration(behindSeconds)} behind its last write` : `was up to ${formatDuration(behindSeconds)} behind its last write during this run`;
  return `the majority commit point of the ${side} ${how}: ${majorityStallEffect(side)}`;
}

/** The remedy for a majority point that trails. */
export function majorityRemedy(side: Side): string {
  return `look at rs.status() on the ${side}: a data-bearing member that is down, unreachable or far behind holds the majority point back; bring it back, or remove it from the set`;
}
