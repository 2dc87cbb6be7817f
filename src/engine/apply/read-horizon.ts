import { Timestamp } from 'mongodb';

/**
 * Where the destination is known to hold a document exactly as the source held it just before an event, so that
 * the event's delta (update-diff.ts) may be applied instead of the whole document looked up again.
 *
 * The destination's documents come from two kinds of writes. An event's own result (an insert's or replacement's
 * document, a delete, a delta applied to the exact pre-image) is the source's state at that event. A document
 * read from the source (the copy, an update's lookup, a duplicate key or a rename resolved) is its state at the
 * read, which may be later than the stream position: the events between the position and the read are already
 * in it, and a delta applied to it again would be applied twice. So a delta applies only to an event later than
 * every read whose document the destination may hold:
 * - the horizon: no read whose document the destination holds, by this runner or any before it, is later. It is
 *   kept on the migration document and raised there before a write of a document read later (`cover`), so a
 *   runner that starts after a crash knows it too;
 * - later reads by this runner: per document (`readAt`), or for everything when the documents read cannot be
 *   named (`readAtForAll`).
 * An event at or before that time takes the whole document, as every update did before deltas: the rule that
 * converges from any copied version.
 */
export class ReadHorizon {
  private floor: Timestamp;
  /** Documents read later than the floor: collection UUID and server-equality key → time of the read. */
  private readonly ahead = new Map<string, Timestamp>();
  /** The highest time a raise was asked for (kept, or on its way). */
  private requested: Timestamp;
  private raising: Promise<void> = Promise.resolve();

  constructor(
    /** The horizon kept when this runner started. */
    private readonly start: Timestamp,
    /** Raises the horizon kept on the migration document (durably: majority) to at least this time. */
    private readonly persist: (time: Timestamp) => Promise<void>,
  ) {
    this.floor = start;
    this.requested = start;
  }

  /**
   * Whether the destination holds this document as the source did just before an event at `time`. A document is
   * named by its collection's UUID and the server-equality key of its `_id` (id-key.ts: an event's is kept on it).
   */
  holdsPreImage(uuid: string, idKey: string, time: Timestamp): boolean {
    if (!time.greaterThan(this.floor)) return false;
    // Asked of every update of a batch: with nothing read ahead (a batch job's deltas), no key is made.
    if (this.ahead.size === 0) return true;
    const read = this.ahead.get(keyOf(uuid, idKey));
    return read === undefined || time.greaterThan(read);
  }

  /** A document of this collection, read at `time`, is about to be written. */
  readAt(uuid: string, idKey: string, time: Timestamp): void {
    if (!time.greaterThan(this.floor)) return;
    const key = keyOf(uuid, idKey);
    const known = this.ahead.get(key);
    if (!known || time.greaterThan(known)) this.ahead.set(key, time);
    if (this.ahead.size > MAX_TRACKED) this.readAtForAll(this.latest());
  }

  /** Documents that cannot be named (by name, not UUID; a chain of duplicate keys) were read at `time`. */
  readAtForAll(time: Timestamp): void {
    if (time.greaterThan(this.floor)) this.floor = time;
    for (const [key, read] of this.ahead) if (!read.greaterThan(this.floor)) this.ahead.delete(key);
  }

  /**
   * Makes the kept horizon cover a read at `time` before its document is written. Raises are chained, so they
   * reach the migration document in order, and a write waits for the raise that covers it.
   */
  cover(time: Timestamp): Promise<void> {
    if (!time.greaterThan(this.requested)) return this.raising;
    // Raised a little further than asked: the reads of the next seconds are covered by this one write (an upper
    // bound stays an upper bound; a runner that starts after a crash only reads those seconds' documents again).
    const raised = new Timestamp({ t: time.t + COVER_AHEAD_SECONDS, i: 0 });
    this.requested = raised;
    const previous = this.raising.catch(() => undefined);
    this.raising = previous.then(() =>
      this.persist(raised).catch((error: unknown) => {
        // Not known to be kept: the next cover raises again ($max makes a repeat harmless).
        this.requested = this.start;
        throw error;
      }),
    );
    return this.raising;
  }

  /** Forgets documents whose reads the applied position has passed: later events are later than their read. */
  passed(time: Timestamp): void {
    if (this.ahead.size < PRUNE_FROM) return;
    for (const [key, read] of this.ahead) if (!read.greaterThan(time)) this.ahead.delete(key);
  }

  private latest(): Timestamp {
    let latest = this.floor;
    for (const read of this.ahead.values()) if (read.greaterThan(latest)) latest = read;
    return latest;
  }
}

const COVER_AHEAD_SECONDS = 5;

/** Beyond this many documents read ahead of the position, they are all covered by one time (memory stays bounded). */
const MAX_TRACKED = 200_000;
const PRUNE_FROM = 10_000;

function keyOf(uuid: string, idKey: string): string {
  return `${uuid}\u0000${idKey}`;
}
