import type { Document } from 'mongodb';

/** Writes the position just after `token`, covering `events` more applied events; throws if the lease is lost. */
export type SavePosition = (token: Document, wallTime: Date | undefined, events: number) => Promise<void>;

/**
 * Saves the tail's position in the background while the next batch is applied, one save at a time: when a
 * save is still running after a batch, that batch's position is left to the next one (a later position covers
 * it). Only positions of applied batches are given, and the save itself makes their writes durable or refuses
 * (apply/write-terms.ts), so any save is a true one, and a crash replays at most what the last save did not
 * cover (applying is idempotent). Whatever else writes the position (the
 * applier's DDL checkpoints) settles first, so positions are never saved out of order.
 */
export class PositionSaver {
  private running: Promise<void> | undefined;
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

  /** Starts saving this position unless a save is running. */
  start(token: Document): void {
    this.check();
    if (this.running) return;
    const events = this.events;
    this.events = 0;
    this.lastStarted = Date.now();
    this.running = this.save(token, this.wallTime, events)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Waits for the running save and reports its failure. */
  async settle(): Promise<void> {
    await this.running;
    this.check();
  }

  /** Throws the failure of an earlier save (a lost lease) at the caller's next step. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
