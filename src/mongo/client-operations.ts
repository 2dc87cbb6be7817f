import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document, MongoClient } from 'mongodb';

/**
 * This process's mark in the driver metadata of every client it opens (see connect.ts): the server shows it
 * beside each of the process's connections and operations ($currentOp's clientMetadata), so a successor can
 * find what a dead runner left running.
 */
export const PROCESS_TAG = randomUUID();

/** The driver name this process announces (the driver prefixes its own: "nodejs|mongo-live-migrate <tag>"). */
export const tagDriverName = (tag: string): string => `mongo-live-migrate ${tag}`;

export interface DrainResult {
  /** Operations of the former process that were still running and were killed. */
  killed: number;
  /** True when its connections were all closed (nothing it sent can still arrive). */
  closed: boolean;
}

/**
 * Stops what a former runner process left running on this cluster. A runner killed with SIGKILL (a cancelled
 * job, a lost VM) leaves its last write commands executing on the server, and requests it had already sent
 * are still read and run after it died: without this, such a write lands after its successor's newer ones and
 * silently undoes them (a rename replayed by the successor then meets the collection the late insert created).
 *
 * Kills every active operation carrying the former process's tag, and waits until its connections are gone
 * (the server closes a dead client's connection once it has read and run everything that client sent) or
 * `graceMs` passes: a live former holder keeps its connections, but it stops writing as soon as it sees it
 * lost the lease. Only the same user's operations are visible and killable without extra privileges, which is
 * what two runners of one migration are.
 */
export async function drainFormerProcess(client: MongoClient, tag: string, graceMs: number): Promise<DrainResult> {
  if (tag === PROCESS_TAG) return { killed: 0, closed: true }; // never our own
  const admin = client.db('admin');
  const deadline = Date.now() + graceMs;
  const killed = new Set<unknown>();
  for (;;) {
    const entries = await admin
      .aggregate<Document>([
        { $currentOp: { allUsers: false, idleConnections: true, idleSessions: false } },
        { $match: { 'clientMetadata.driver.name': { $regex: tag } } },
        { $project: { opid: 1, active: 1, op: 1, command: 1 } },
        // $currentOp runs with readConcern local only: the source client's default (majority) would refuse it.
      ], { readConcern: { level: 'local' } })
      .toArray();
    if (!entries.length) return { killed: killed.size, closed: true };
    for (const entry of entries) {
      if (!entry.active || entry.opid === undefined || !isWrite(entry)) continue;
      // Already finished: the next listing shows it gone either way.
      const reply = await admin.command({ killOp: 1, op: entry.opid }).catch(() => undefined);
      if (reply) killed.add(entry.opid);
    }
    if (Date.now() >= deadline) return { killed: killed.size, closed: false };
    await sleep(100);
  }
}

/** Commands that change data or the catalog (a dead runner's reads answer nobody and end on their own). */
const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify', 'bulkWrite', 'renameCollection', 'create', 'drop', 'createIndexes', 'dropIndexes', 'collMod', 'dropDatabase', 'applyOps', 'setUserWriteBlockMode']);

/** A $currentOp entry of a write (a command too large to show is shown truncated: counted as one, to be safe). */
function isWrite(entry: Document): boolean {
  if (entry.op === 'insert' || entry.op === 'update' || entry.op === 'remove') return true;
  const name = Object.keys((entry.command as Document | undefined) ?? {})[0];
  return name !== undefined && (WRITE_COMMANDS.has(name) || name === '$truncated');
}
