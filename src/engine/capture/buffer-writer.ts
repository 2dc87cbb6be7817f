import type { Logger } from '../../log.js';
import type { NamespaceFilter } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import type { BufferDoc } from '../state/types.js';
import { withoutFullDocument, type ChangeEvent } from './change-event.js';
import { isRelevant } from './change-stream.js';
import type { RawChangeStream } from './raw-change-stream.js';

/** An event this large cannot be stored with its document (16 MB per document): it is kept without it and looked up at replay. */
const MAX_STORED_EVENT_BYTES = 15 * 1024 * 1024;
const FLUSH_EVERY_MS = 200;
const FLUSH_AT_EVENTS = 1000;

/**
 * Captures change events into the destination while the copy runs, so the source oplog only has to cover
 * seconds, not the whole copy. Each buffered event carries its resume token and the buffer is written in
 * order (ordered inserts): the last buffered event is always a valid place to resume from. Events are
 * stored as the raw bytes the source sent.
 */
export class BufferWriter {
  private stopped = false;
  private running: Promise<void> | undefined;
  private nextSeq: number;
  captured = 0;
  /** Wall time of the newest source change seen (for lag while copying). */
  lastWallTime: Date | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly stream: RawChangeStream,
    private readonly filter: NamespaceFilter,
    private readonly log: Logger,
    private readonly assertLease: () => void,
    startSeq: number,
  ) {
    this.nextSeq = startSeq;
  }

  start(): void {
    this.running = this.loop();
    this.running.catch(() => undefined);
  }

  /** Stops after writing everything read so far; rethrows what broke the loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Rethrows a capture failure early (the copy should not go on without capture). */
  async check(): Promise<void> {
    if (this.failure) throw this.failure;
  }
  private failure: unknown;

  private async loop(): Promise<void> {
    let pending: BufferDoc[] = [];
    let lastFlush = Date.now();
    try {
      while (!this.stopped) {
        const event = await this.stream.tryNext();
        if (event) {
          if (event.wallTime instanceof Date) this.lastWallTime = event.wallTime;
          if (isRelevant(event, this.filter)) pending.push(this.toBufferDoc(event));
        }
        if (pending.length >= FLUSH_AT_EVENTS || (pending.length && (!event || Date.now() - lastFlush > FLUSH_EVERY_MS))) {
          await this.flush(pending);
          pending = [];
          lastFlush = Date.now();
        }
      }
      // Events not read yet stay in the source oplog: whoever continues resumes after the last buffered one.
      await this.flush(pending);
    } catch (error) {
      this.failure = error;
      throw error;
    }
  }

  private toBufferDoc(event: ChangeEvent): BufferDoc {
    const _id = { m: this.store.name, seq: this.nextSeq++ };
    if (event.raw.length > MAX_STORED_EVENT_BYTES) return { _id, token: event.token, raw: withoutFullDocument(event.raw), refetch: true };
    return { _id, token: event.token, raw: event.raw };
  }

  private async flush(docs: BufferDoc[]): Promise<void> {
    if (!docs.length) return;
    this.assertLease();
    await this.store.buffer.insertMany(docs, { ordered: true, writeConcern: { w: 'majority' } });
    this.captured += docs.length;
    this.log.debug({ buffered: docs.length, total: this.captured }, 'buffered change events');
  }
}
