import { setTimeout as sleep } from 'node:timers/promises';
import { abortable, shortCommandBound, withinBound } from '../../mongo/stall-bound.js';
import { errorMessage, OperationError } from '../../errors.js';
import type { MongoClient } from 'mongodb';
import { drainFormerProcess, PROCESS_TAG, type DrainResult } from '../../mongo/client-operations.js';
import { DEFAULT_LEASE_TTL_MS } from '../ports.js';
import type { StateStore } from './store.js';
import type { Lease, MigrationDoc } from './types.js';

/** Beyond the lease's own expiry, for clocks and a slow poll. */
const WAIT_MARGIN_MS = 3_000;
const POLL_MS = 250;

/**
 * Waiting for a held lease instead of failing at once. A runner that died (a cancelled or timed-out job, a
 * lost VM) leaves its lease until it expires, and the rerun that follows should take it then, not fail.
 * A holder that is alive shows it (it renews its lease or writes the state): then the wait ends with the
 * usual refusal, unless `anyHolder` says the holder was asked to yield (the cutover's handoff) and will
 * release the lease soon.
 */
export interface LeaseWait {
  /** Told once, when the wait starts (the log: "waiting for ..."), and what was done about a former holder's writes. */
  onWait: (message: string) => void;
  signal?: AbortSignal;
  /** Wait for a live holder too, this long (ms): it was asked to release the lease. */
  anyHolderMs?: number;
  /** Ends the wait with this error when the state says waiting is pointless (a tail slice, once a cutover has the migration). */
  stopIf?: (doc: MigrationDoc) => Error | undefined;
}

export class LeaseLostError extends OperationError {
  constructor(name: string) {
    super(`another runner took over migration "${name}" (this runner's lease lapsed); this run stops without writing more`, 'check `status`; only one runner may drive a migration at a time');
  }
}

/**
 * Exactly one runner drives a migration. The lease expiry is computed with the destination's clock ($$NOW),
 * so runners with skewed clocks still agree. The holder checks `assertHeld` before each write batch: a
 * runner paused past its safe window stops instead of writing stale changes over a successor's.
 */
export class LeaseHolder {
  private timer: NodeJS.Timeout | undefined;
  private lastRenewedAt = 0;
  private lost = false;
  /** Renewed three times per lease period. */
  private readonly renewEveryMs: number;
  /** Stop writing well before the lease could have expired, whatever the clocks do (two thirds of it). */
  private readonly safeWindowMs: number;

  /** The lease this one replaced, when it was another process's (taken over, expired, or never released). */
  private former: Lease | undefined;
  /** Process tags of former holders not yet seen drained, this one's predecessor included (see undrainedClients). */
  private undrained: string[] = [];

  /**
   * `alsoDrain`: the other clusters a former holder may have written to (the source: its write block).
   * `ttlMs`: how long the lease lasts without renewal.
   */
  constructor(
    private readonly store: StateStore,
    readonly owner: string,
    private readonly alsoDrain: readonly MongoClient[] = [],
    readonly ttlMs = DEFAULT_LEASE_TTL_MS,
  ) {
    this.renewEveryMs = Math.floor(ttlMs / 3);
    this.safeWindowMs = Math.floor((ttlMs * 2) / 3);
  }

  /**
   * Takes the lease when it is free, expired, ours already, or when forced; with `wait`, waits for it (see
   * LeaseWait). Taken from another process, it first stops what that process left running on the destination (and on `alsoDrain`).
   */
  async acquire(force = false, wait?: LeaseWait): Promise<void> {
    if (!(await this.tryAcquire(force))) {
      if (!wait) throw await this.refusal();
      await this.waitFor(wait);
    }
    this.lastRenewedAt = Date.now();
    this.timer = setInterval(() => void this.renew(), this.renewEveryMs);
    this.timer.unref();
    if (this.undrained.length) await this.drainFormers(wait);
  }

  /**
   * Stops what former holder processes left running (see drainFormerProcess), each until its connections are gone
   * or the safe window passes: a dead process's close once the server has run what it sent (seconds on a busy
   * server), and a live holder stops writing within its own safe window of losing the lease. Those seen closed
   * leave the state's list; the others stay for the next successor to drain again.
   */
  private async drainFormers(wait: LeaseWait | undefined): Promise<void> {
    const who = this.former?.owner ?? 'a former runner';
    const drain = (client: MongoClient, tag: string): Promise<DrainResult> =>
      drainFormerProcess(client, tag, this.safeWindowMs).catch((error: unknown) => {
        // Without the listing (another user's runner, a restricted role) the takeover is as before: not drained.
        wait?.onWait(`could not list what the former runner (${who}) left running: ${errorMessage(error)}`);
        return { killed: 0, closed: true };
      });
    const results = await Promise.all(this.undrained.map(async (tag) => ({ tag, each: await Promise.all([this.store.client, ...this.alsoDrain].map((client) => drain(client, tag))) })));
    const killed = results.reduce((sum, r) => sum + r.each.reduce((n, e) => n + e.killed, 0), 0);
    const closed = results.filter((r) => r.each.every((e) => e.closed)).map((r) => r.tag);
    const formers = this.undrained.length > 1 ? `former runners (${who} and ${this.undrained.length - 1} before it)` : `the former runner (${who})`;
    if (killed) wait?.onWait(`stopped ${killed} write(s) that ${formers} left running`);
    if (closed.length < this.undrained.length) wait?.onWait(`a former runner (${who}) still has connections open after ${Math.round(this.safeWindowMs / 1000)} s; a live one stops writing when it sees its lease taken`);
    if (closed.length) await this.store.migrations.updateOne({ _id: this.store.name }, { $pullAll: { undrainedClients: closed } }, { writeConcern: { w: 'majority' } });
  }

  private async tryAcquire(force: boolean): Promise<boolean> {
    const free = force ? {} : { $or: [{ lease: null }, { 'lease.owner': this.owner }, { $expr: { $lt: ['$lease.expiresAt', '$$NOW'] } }] };
    // The former holder's tag joins the undrained ones in the same write that takes the lease: a runner killed
    // before it drained them leaves them to its own successor (see undrainedClients).
    const formerTag = { $cond: [{ $and: [{ $ne: [{ $ifNull: ['$lease.client', null] }, null] }, { $ne: ['$lease.client', PROCESS_TAG] }] }, ['$lease.client'], []] };
    const before = await this.store.migrations.findOneAndUpdate(
      { _id: this.store.name, ...free },
      [{ $set: { undrainedClients: { $setUnion: [{ $ifNull: ['$undrainedClients', []] }, formerTag] }, lease: { owner: this.owner, expiresAt: { $add: ['$$NOW', this.ttlMs] }, client: PROCESS_TAG } } }],
      { writeConcern: { w: 'majority' }, returnDocument: 'before', projection: { lease: 1, undrainedClients: 1 } },
    );
    if (!before) return false;
    const former = before.lease ?? undefined;
    this.former = former && former.client !== PROCESS_TAG ? former : undefined;
    // What the write above stored, as the pipeline computed it.
    this.undrained = [...new Set([...(before.undrainedClients ?? []), ...(this.former?.client ? [this.former.client] : [])])].filter((tag) => tag !== PROCESS_TAG);
    return true;
  }

  private async waitFor(wait: LeaseWait): Promise<void> {
    const first = await this.store.get();
    const stopFirst = first && wait.stopIf?.(first);
    if (stopFirst) throw stopFirst;
    const holder = first?.lease;
    if (!holder) {
      if (await this.tryAcquire(false)) return;
      throw await this.refusal();
    }
    const started = Date.now();
    // A lease expires at most one TTL after its last renewal: a dead holder's is gone by then.
    const limitMs = Math.max(this.ttlMs + WAIT_MARGIN_MS, wait.anyHolderMs ?? 0);
    wait.onWait(
      wait.anyHolderMs
        ? `migration "${this.store.name}" is driven by ${holder.owner}, asked to hand over: waiting up to ${Math.round(limitMs / 1000)} s for it to release its lease`
        : `migration "${this.store.name}" is held by ${holder.owner} (lease until ${holder.expiresAt.toISOString()}): waiting up to ${Math.round(limitMs / 1000)} s for it to end or, if that runner is gone, for its lease to expire`,
    );
    while (Date.now() - started < limitMs) {
      await sleep(POLL_MS, undefined, wait.signal ? { signal: wait.signal } : {}).catch(() => undefined);
      if (wait.signal?.aborted) break;
      if (await this.tryAcquire(false)) return;
      const now = await this.store.get();
      const stop = now && wait.stopIf?.(now);
      if (stop) throw stop;
      const lease = now?.lease;
      if (!lease) continue; // released a moment ago: take it on the next turn
      const alive = lease.owner !== holder.owner || lease.expiresAt.getTime() !== holder.expiresAt.getTime() || now.updatedAt.getTime() !== first.updatedAt.getTime();
      if (alive && !wait.anyHolderMs) break;
    }
    throw await this.refusal();
  }

  private async refusal(): Promise<OperationError> {
    const doc = await this.store.get();
    const holder = doc?.lease;
    return new OperationError(
      `migration "${this.store.name}" is being driven by another runner (${holder?.owner ?? 'unknown'}, lease until ${holder?.expiresAt?.toISOString() ?? '?'})`,
      `wait for it to finish, or if that runner is gone, wait for the lease to expire (${Math.round(this.ttlMs / 1000)} s after its last renewal) or rerun with --force-takeover`,
    );
  }

  private async renew(): Promise<void> {
    try {
      // Bounded within a renewal period: a renewal whose reply was lost must not outlive the lease; the next tick tries again.
      const result = await withinBound('renewing the lease', Math.min(this.ttlMs / 3, shortCommandBound()), (signal) =>
        this.store.migrations.updateOne({ _id: this.store.name, 'lease.owner': this.owner }, [{ $set: { 'lease.expiresAt': { $add: ['$$NOW', this.ttlMs] } } }], abortable({ writeConcern: { w: 'majority' as const } }, signal)),
      );
      if (result.matchedCount === 0) this.lost = true;
      else this.lastRenewedAt = Date.now();
    } catch {
      // A failed renewal is retried on the next tick; assertHeld stops writes if it keeps failing.
    }
  }

  /** Throws LeaseLostError when the state shows another holder (a successor may have stopped our writes). */
  async verifyHeld(): Promise<void> {
    const doc = await this.store.migrations.findOne({ _id: this.store.name }, { projection: { lease: 1 } });
    if (doc?.lease?.owner !== this.owner || (doc.lease.client && doc.lease.client !== PROCESS_TAG)) {
      this.lost = true;
      throw new LeaseLostError(this.store.name);
    }
  }

  /** Throws when the lease is lost or could have expired; call before writing. */
  assertHeld(): void {
    if (this.lost || Date.now() - this.lastRenewedAt > this.safeWindowMs) throw new LeaseLostError(this.store.name);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.store.migrations
      .updateOne({ _id: this.store.name, 'lease.owner': this.owner }, { $set: { lease: null } }, { writeConcern: { w: 'majority' } })
      .catch(() => undefined);
  }
}
