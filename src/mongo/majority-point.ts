import type { MongoClient } from 'mongodb';
import type { Side } from './connect.js';
import { hello, type HelloReply } from './introspection.js';
import { withinShortBound } from './stall-bound.js';
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

/**
 * Seconds the side's majority commit point trails its last write, from a hello bounded like any short command;
 * undefined when the side does not answer in time or does not say (the caller reports what it can).
 */
export async function readMajorityBehind(client: MongoClient, side: Side): Promise<number | undefined> {
  const reply = await withinShortBound(`hello on the ${side}`, (signal) => hello(client, signal)).catch(() => undefined);
  return reply && majorityBehindSeconds(reply);
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

/** The warning a run reports (its log, its report, status): how far the point trails, and what to do about it. */
export function majorityWarning(side: Side, behindSeconds: number, over: 'now' | 'run' = 'now'): string {
  return `${majorityTrailing(side, behindSeconds, over)}; ${majorityRemedy(side)}`;
}

/** The remedy for a majority point that trails. */
export function majorityRemedy(side: Side): string {
  return `look at rs.status() on the ${side}: a data-bearing member that is down, unreachable or far behind holds the majority point back; bring it back, or remove it from the set`;
}
