import { randomUUID } from 'node:crypto';
import type { Document } from 'mongodb';
import { OperationError } from '../../errors.js';
import { pausePoint } from '../failpoints.js';
import { LeaseLostError } from '../state/lease.js';
import type { StateStore } from '../state/store.js';
import { FENCE_FIELDS, type Fence } from '../state/types.js';

/**
 * Data writes wait for the destination's primary alone; a majority is waited for once per saved position.
 * (A majority wait per write command was the tail's limit: bench/README.md, "Tail throughput".)
 */
export const DATA_WRITE_CONCERN = { w: 1 } as const;

/** The election term a write command's reply reports (`opTime.t`, what every replica-set member returns). */
export function replyTerm(reply: Document): number | undefined {
  const opTime = reply.opTime as { t?: unknown } | undefined;
  if (opTime?.t === undefined || opTime.t === null) return undefined;
  const term = Number(opTime.t);
  return Number.isFinite(term) ? term : undefined;
}

/**
 * The destination's primary changed between data writes and the save of the position that covers them: those
 * writes may be on a branch the new primary never had (a w: 1 write is rolled back by a failover). The position
 * is not saved; the step runs again from the last saved one, and applying again is idempotent. Transient, so the
 * engine's reconnect loop (withReconnect) does exactly that.
 */
export class DestinationTermChanged extends Error {
  readonly transient = true;
  constructor(detail: string) {
    super(`the destination's primary changed while changes were applied (${detail}); resuming from the last saved position`);
    this.name = 'DestinationTermChanged';
  }
}

/**
 * THE RULE that lets data be written with w: 1 (DESIGN.md: "persist the resume token only after the batch it
 * ends is durable"), kept here and nowhere else. A position is saved in three steps:
 *
 *   1. every data write it covers was acknowledged in one election term T of the destination;
 *   2. a fence (a fresh value in the migration document) is written with w: 1 and acknowledged in term T too;
 *   3. the position is written with w: majority, only where the migration document holds that fence.
 *
 * Why that is enough: a term has one primary, whose oplog only grows during the term, and the fence was sent
 * after the data writes were acknowledged, so the fence's oplog entry follows theirs. Any member holding the fence
 * holds that primary's oplog up to it (members copy the oplog in order), data included. So the save in step 3,
 * on whichever primary runs it, matches only on a history that holds the data, and its majority commit commits
 * that history: a saved position never covers a write that a failover rolls back. (A data write that changed
 * nothing reports the primary's last op, which likewise follows whatever made the document what it is.)
 * Checking the term of the save itself would come too late — the position would already be written — and
 * checking the primary before it races with an election; the fence is harmless when refused.
 *
 * When step 1 or 2 fails (a write acknowledged in another term, e.g. before a failover) or step 3 finds no fence
 * (rolled back with the writes before it), nothing is saved: DestinationTermChanged, transient, and the step
 * runs again from the last saved position (applying again is idempotent).
 *
 * Writes are counted from the moment save() is called (synchronously): writes acknowledged after that belong to
 * the next save (the tail writes the next batch while a save runs; that save's position does not cover them).
 * A save that fails leaves its writes unconfirmed and every later position would cover them too: after one,
 * no save of this WriteTerms is accepted again (the caller starts over from the saved state with a new one).
 *
 * Two saves may overlap: the next save's fence is written while the one before waits for its majority (step 3
 * is the longer wait; bench/README.md, "Overlapping position saves"). Each fence has a fresh value, so the rule
 * above holds for each save on its own; what overlapping adds is kept here too:
 *   - the fences go to two fields in turn, so a fence never overwrites one whose save has not ended (a save's
 *     fence waits for the save two before it to end);
 *   - step 3 runs in the order save() was called, each after the one before has ended, so a position is never
 *     written over by an older one;
 *   - a save whose predecessor failed writes nothing in step 3 (its position would cover the refused writes).
 */
export class WriteTerms {
  /** Terms of the data writes acknowledged since the last save was called. */
  private terms = new Set<number>();
  /** A write reported no term (not a replica-set member?): no save can vouch for it. */
  private termless = false;
  private broken: unknown;
  /** Which fence field the next save writes: the fields are used in turn. */
  private nextSlot: 0 | 1 = 0;
  /** Ends when the newest save has ended (either way): the next save's step 3 waits for it. */
  private lastEnded: Promise<void> = Promise.resolve();
  /** Per fence field, when the save that last used it ends: the next fence written there waits for it. */
  private readonly fieldFree: [Promise<void>, Promise<void>] = [Promise.resolve(), Promise.resolve()];

  /** Records an acknowledged data write (its reply). */
  acknowledged(reply: Document): void {
    const term = replyTerm(reply);
    if (term === undefined) this.termless = true;
    else this.terms.add(term);
  }

  /**
   * Saves `set` (and `extra` update operators) into the migration document as a position covering every data
   * write acknowledged before this call, by the rule above; throws instead of saving when it does not hold, and
   * LeaseLostError when `owner` no longer holds the lease. May be called again before an earlier call ends.
   */
  async save(store: StateStore, owner: string, set: Document, extra: Document = {}): Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    const covered = [...this.terms];
    const termless = this.termless;
    this.terms = new Set();
    this.termless = false;
    const slot = this.nextSlot;
    this.nextSlot = slot === 0 ? 1 : 0;
    const before = this.lastEnded;
    const fieldFree = this.fieldFree[slot];
    let ended!: () => void;
    this.lastEnded = this.fieldFree[slot] = new Promise<void>((resolve) => (ended = resolve));
    try {
      if (termless) throw noTerm('a data write');
      if (covered.length > 1) throw new DestinationTermChanged(`data written in terms ${covered.join(', ')}`);
      let fence: Fence | undefined;
      if (covered.length) {
        await fieldFree;
        this.assertUnbroken();
        fence = { field: FENCE_FIELDS[slot], value: randomUUID() };
        await pausePoint('position:before-fence');
        const reply = await store.writeFence(owner, fence);
        if (Number(reply.n) !== 1) throw await leaseLostOr(store, owner, 'the save fence matched no migration document');
        const term = replyTerm(reply);
        if (term === undefined) throw noTerm('the save fence');
        if (term !== covered[0]) throw new DestinationTermChanged(`data written in term ${covered[0]}, the save fence in term ${term}`);
        await pausePoint('position:fence-written');
      }
      await before;
      this.assertUnbroken();
      await pausePoint('position:before-save');
      const reply = await store.updateFenced(owner, fence, set, extra);
      if (Number(reply.n) === 1) return;
      throw await leaseLostOr(store, owner, 'the save fence was rolled back');
    } catch (error) {
      this.broken ??= error;
      throw error;
    } finally {
      ended();
    }
  }

  /** An earlier save failed: this one may not save (its position would cover that save's writes). */
  private assertUnbroken(): void {
    if (this.broken !== undefined) throw this.broken;
  }
}

/** LeaseLostError when another runner holds the lease now; otherwise the destination's history changed under the save. */
async function leaseLostOr(store: StateStore, owner: string, detail: string): Promise<Error> {
  const doc = await store.get();
  return doc?.lease?.owner !== owner ? new LeaseLostError(store.name) : new DestinationTermChanged(detail);
}

function noTerm(what: string): OperationError {
  return new OperationError(`${what} on the destination reported no replication term (opTime), so no saved position can vouch for the data written`, 'point destination.uri at a replica set (not a mongos or a standalone server)');
}
