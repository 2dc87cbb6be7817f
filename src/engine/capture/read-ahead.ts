import type { ChangeEvent } from './change-event.js';
import type { ReadBatch } from './batch-reader.js';

/** A batch read ahead of the writes, with the work started on it (the applier's lookups) and how long that took. */
export interface AheadBatch<P> extends ReadBatch {
  prepared: Promise<P>;
  /** How long the work on it took (0 while it runs). */
  preparedMs: () => number;
}

export interface ReadAheadLimits {
  /** Events held read and not taken: the tail's batch size, so a batch taken never holds more. */
  events: number;
  /** Reads held and not taken, each with its own work started (what bounds the memory of their lookups). */
  reads: number;
  /** Bytes of events held and not taken: past them no read starts (one read may pass them, as one batch did). */
  bytes: number;
}

/**
 * Keeps reading the stream while the tail writes, and hands over everything read since the last take as one
 * batch. With one batch read ahead, the events that reached the source while a batch was written were asked for
 * only once it was taken, and written one whole cycle later: under a steady load that read cycle was a third of
 * the tail's lag (bench/README.md, "where the sustained tail's lag goes"). Reads stop while `limits` are reached,
 * so memory stays as it was with one batch ahead; a batch job fills one read and the reader waits as before.
 *
 * Every read has its work started as soon as it is read, in stream order; a take merges their results (`merge`).
 * A read that fails ends the reading: the batches before it are still handed over, the failure at the next take.
 */
export class ReadAhead<P> {
  private readonly queue: AheadBatch<P>[] = [];
  private queuedEvents = 0;
  private queuedBytes = 0;
  private failure: { error: unknown } | undefined;
  private ended = false;
  private stopped = false;
  private wakeTaker: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly read: (maxEvents: number) => Promise<ReadBatch>,
    private readonly prepare: (events: readonly ChangeEvent[]) => Promise<P>,
    private readonly merge: (prepared: P[]) => P,
    private readonly limits: ReadAheadLimits,
  ) {
    this.loop = this.readLoop();
  }

  /** Everything read since the last take, as one batch; waits for the next read when nothing is held. */
  async take(): Promise<AheadBatch<P>> {
    for (;;) {
      if (this.queue.length) {
        const taken = this.queue.splice(0);
        this.queuedEvents = 0;
        this.queuedBytes = 0;
        this.wake('reader');
        return taken.length === 1 ? taken[0]! : this.merged(taken);
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) throw new Error('the change stream was read to its stop point; nothing is left to take');
      await new Promise<void>((resolve) => (this.wakeTaker = resolve));
    }
  }

  /**
   * Stops reading, lets the read in flight end (what it read is dropped, nothing looked up), and returns the work of
   * every batch read before and not taken (to be awaited before the stream closes: a lookup may still run).
   */
  async stop(): Promise<Promise<P>[]> {
    this.stopped = true;
    this.wake('reader');
    await this.loop;
    return this.queue.splice(0).map((batch) => batch.prepared);
  }

  private async readLoop(): Promise<void> {
    try {
      while (!this.stopped) {
        if (this.queuedEvents >= this.limits.events || this.queue.length >= this.limits.reads || this.queuedBytes >= this.limits.bytes) {
          await new Promise<void>((resolve) => (this.wakeReader = resolve));
          continue;
        }
        if (!(await this.readOnce())) break;
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.ended = true;
      this.wake('taker');
    }
  }

  /**
   * One read, queued with its work started; false when reading ends (stopped, or the stop point reached). Its own
   * function: a batch held in the loop's frame stayed reachable while the loop waited for room, long after it was
   * taken and applied (a heap snapshot under a burst: a third of the events in memory).
   */
  private async readOnce(): Promise<boolean> {
    const batch = await this.read(this.limits.events - this.queuedEvents);
    // Stopped while it read: nothing will take it, so its documents are not looked up.
    if (this.stopped) return false;
    const started = Date.now();
    let preparedMs = 0;
    const prepared = this.prepare(batch.events).finally(() => (preparedMs = Date.now() - started));
    prepared.catch(() => undefined); // awaited when taken; a batch read and never taken is dropped
    this.queue.push({ ...batch, prepared, preparedMs: () => preparedMs });
    this.queuedEvents += batch.events.length;
    for (const event of batch.events) this.queuedBytes += event.raw.length;
    this.wake('taker');
    return !batch.reachedStop;
  }

  private wake(who: 'taker' | 'reader'): void {
    const wake = who === 'taker' ? this.wakeTaker : this.wakeReader;
    if (who === 'taker') this.wakeTaker = undefined;
    else this.wakeReader = undefined;
    wake?.();
  }

  /** Several reads as one batch: events in order, where the stream stood after the last, their work merged. */
  private merged(batches: AheadBatch<P>[]): AheadBatch<P> {
    const last = batches[batches.length - 1]!;
    const prepared = Promise.all(batches.map((b) => b.prepared)).then((all) => this.merge(all));
    prepared.catch(() => undefined); // awaited by the taker
    return {
      events: batches.flatMap((b) => b.events),
      drained: last.drained,
      reachedStop: last.reachedStop,
      lastWall: batches.findLast((b) => b.lastWall !== undefined)?.lastWall,
      lastTime: batches.findLast((b) => b.lastTime !== undefined)?.lastTime,
      token: batches.findLast((b) => b.token !== undefined)?.token,
      readMs: batches.reduce((sum, b) => sum + b.readMs, 0),
      prepared,
      preparedMs: () => Math.max(...batches.map((b) => b.preparedMs())),
    };
  }
}
