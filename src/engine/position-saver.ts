import type { Document } from 'mongodb';

/** What a save writes beside the position, taken when its batch ended (the tail's open documents, its lag). */
export type Snapshot = Document;

/** Writes the position just after `token`, covering `events` more applied events; throws if the lease is lost. */
export type SavePosition = (token: Document, wallTime: Date | undefined, events: number, snapshot: Snapshot) => Promise<void>;

interface Pending {
  token: Document;
  wallTime: Date | undefined;
  snapshot: Snapshot;
}

/** Saves in flight at once: one waiting for its majority while the next writes its fence (apply/write-terms.ts). */
const SAVES_IN_FLIGHT = 2;

/**
 * Saves the tail's position in the background while the next batch is applied, up to two saves at a time (the
 * second's fence is written while the first waits for its majority; they end in order: apply/write-terms.ts).
 * A batch that ends while two saves run has its position saved as soon as the first ends (the newest such
 * position: a later one covers the earlier), not at the end of the batch after it: under a steady load that wait
 * was one more batch of lag (bench/README.md, "where the sustained tail's lag goes"). What a save writes beside
 * the position is taken when its batch ended, so a save that starts while the next batch is written still saves
 * that batch's end. Only positions of applied batches are given, and the save itself makes their writes durable
 * or refuses (apply/write-terms.ts; the writes of the next batch already acknowledged when it starts are counted
 * too, and its fence follows them), so any save is a true one, and a crash replays at most what the last save did
 * not cover (applying is idempotent). Whatever else writes the position (the applier's DDL checkpoints) settles
 * first, so positions are never saved out of order.
 */
export class PositionSaver {
  private readonly running = new Set<Promise<void>>();
  private next: Pending | undefined;
  private failure: unknown;
  private events = 0;
  private wallTime: Date | undefined;
  /** When the last save started (ms since epoch). */
  lastStarted = 0;

  constructor(private readonly save: SavePosition) {}

  /** A batch is applied and durable; its position is not saved yet. */
  applied(events: number, wallTime: Date | undefined): void {
    this.events += events;
    if (wallTime) this.wallTime = wallTime;
  }

  /** Applied events no save has covered yet. */
  get pending(): number {
    return this.events;
  }

  /** Saves this position now, or as soon as a running save ends. */
  start(token: Document, snapshot: Snapshot = {}): void {
    this.check();
    this.next = { token, wallTime: this.wallTime, snapshot };
    if (this.running.size < SAVES_IN_FLIGHT) this.startNext();
  }

  private startNext(): void {
    const next = this.next;
    this.next = undefined;
    if (!next || this.failure !== undefined) return;
    const events = this.events;
    this.events = 0;
    this.lastStarted = Date.now();
    const saving: Promise<void> = this.save(next.token, next.wallTime, events, next.snapshot)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.running.delete(saving);
        this.startNext();
      });
    this.running.add(saving);
  }

  /** Waits for the running saves and any position waiting for them, and reports a failure. */
  async settle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
    this.check();
  }

  /** Throws the failure of an earlier save (a lost lease) at the caller's next step. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
