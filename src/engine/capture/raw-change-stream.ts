import { MongoNetworkError, MongoServerSelectionError, type Document, type MongoClient } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTransientReadError } from '../copy/copy-partition.js';
import { RawBatchCursor } from '../copy/raw-cursor.js';
import { shortCommandBound } from '../../mongo/stall-bound.js';
import { SYSTEM_DBS } from '../../namespaces.js';
import { assembleFragments, decodeChangeEvent, splitInfo, type ChangeEvent } from './change-event.js';
import type { Position } from './change-stream.js';

export interface RawChangeStreamOptions {
  batchSize: number;
  /** How long one read waits for new events before reporting none. */
  maxAwaitTimeMS?: number;
  /** An extra filter on the events (before any split); undefined: none. */
  match?: Document | undefined;
}

/**
 * The cluster-wide change stream the migration reads from, as raw events: every database, DDL included
 * (showExpandedEvents). The server drops system databases; the rest is filtered by the caller with the
 * namespace rules. Updates come without a document: asking the stream for one (updateLookup) makes the
 * source run one lookup per event inside the stream, serially, which capped the tail at a third of what a
 * secondary applies. On 7.0+ they come with the oplog's own delta, which the applier applies where the
 * destination holds the pre-image (update-diff.ts, read-horizon.ts); elsewhere it reads the documents in
 * batches (current-documents.ts).
 *
 * Never asks for more than a reply can hold: the parsed updateDescription is not read, and on 7.0+ an event still
 * over 16 MB arrives in fragments that are put back together here. The next batch is read from the server
 * while the caller applies the current one.
 */
export class RawChangeStream {
  private batch: Buffer[] = [];
  /** The server's resume token after the batch being handed out (a prefetched batch has its own). */
  private batchToken: Document | undefined;
  /** The next batch, already asked of the server. */
  private ahead: Promise<Fetched> | undefined;
  private fragments: Buffer[] = [];
  private token: Document | undefined;
  /** The last event handed out when the position is its token: decoded only when asked for (see resumeToken). */
  private tokenOf: ChangeEvent | undefined;
  private cursor!: RawBatchCursor;

  private constructor(
    private readonly source: MongoClient,
    private readonly start: Position,
    private readonly options: RawChangeStreamOptions,
    private readonly split: boolean,
  ) {}

  static async open(source: MongoClient, position: Position, options: RawChangeStreamOptions): Promise<RawChangeStream> {
    const stream = new RawChangeStream(source, position, options, await supportsSplitEvents(source));
    await stream.openCursor();
    return stream;
  }

  /** Opens the server cursor from the last position handed out (or the start); drops what was read ahead. */
  private async openCursor(): Promise<void> {
    const resumeToken = this.resumeToken;
    const position: Position = resumeToken ? { resumeAfter: resumeToken } : this.start;
    const at = 'resumeAfter' in position ? { resumeAfter: position.resumeAfter } : 'startAtOperationTime' in position ? { startAtOperationTime: position.startAtOperationTime } : {};
    const pipeline: Document[] = [
      // The update's own delta (7.0+, the release split events also need): see apply/update-diff.ts. It comes
      // instead of the parsed updateDescription, which is never read: before 7.0 that is removed from each event.
      { $changeStream: { allChangesForCluster: true, showExpandedEvents: true, ...(this.split ? { showRawUpdateDescription: true } : {}), ...at } },
      { $match: { 'ns.db': { $nin: [...SYSTEM_DBS] } } },
      ...(this.split ? [] : [{ $unset: 'updateDescription' }]),
      ...(this.options.match ? [{ $match: this.options.match }] : []),
      ...(this.split ? [{ $changeStreamSplitLargeEvent: {} }] : []),
    ];
    const { batchSize } = this.options;
    // A reopened stream reads on where the closed one stood: the size it measured carries over, so that large
    // events do not make a 16 MB reply after every election or killed cursor.
    const readSize = (this.cursor as RawBatchCursor | undefined)?.nextReadSize; // none before the first open
    // Every command is bounded (see stall-bound.ts). The opening aggregate asks for no events (batchSize 0) and
    // returns at once: asked for a batch, from an old position through a selective filter, it scans until it fills
    // one or reaches the end of the oplog, for any length of time, and a bound would only start that scan again.
    // A getMore's scan stops at its await time and returns the position it reached (an empty batch's token).
    this.cursor = new RawBatchCursor(this.source, { db: 'admin', open: { aggregate: 1, pipeline, cursor: { batchSize: 0 } }, collection: '$cmd.aggregate', batchSize, replyBytes: READ_BYTES, ...(readSize !== undefined ? { readSize } : {}), maxAwaitTimeMS: this.options.maxAwaitTimeMS ?? 250, boundMs: shortCommandBound() });
    this.fragments = [];
    this.ahead = undefined;
    // Open now, so that the stream's start is fixed (a position no longer in the oplog fails here or at the first read).
    this.batch = (await this.cursor.nextBatch()) ?? [];
    // The post-batch token covers the batch: it is the position only once every event of it is handed out.
    this.batchToken = this.cursor.postBatchResumeToken;
    if (!this.batch.length) this.moveTo(this.batchToken);
  }

  /** Asks the server for the next batch now, keeping the token that belongs to that batch with it. */
  private readAhead(): void {
    const cursor = this.cursor;
    const ahead = cursor.nextBatch().then(
      (docs): Fetched => ({ docs, token: cursor.postBatchResumeToken }),
      (error: unknown): Fetched => ({ docs: null, token: undefined, error }),
    );
    this.ahead = ahead;
  }

  /** The batch read ahead, or a new read. */
  private async nextFromServer(): Promise<Fetched> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead) return ahead;
    try {
      const docs = await this.cursor.nextBatch();
      return { docs, token: this.cursor.postBatchResumeToken };
    } catch (error) {
      return { docs: null, token: undefined, error };
    }
  }

  /**
   * The next batch; after an election, a killed cursor or a dropped connection the stream is opened again
   * where it stood (what the driver's own change stream does), a few times with backoff.
   */
  private async fetch(): Promise<Buffer[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const next = await this.nextFromServer();
        if (next.error !== undefined) throw next.error;
        if (next.docs === null) throw new Error('the change stream was closed by the server');
        this.batchToken = next.token;
        // Only a batch with events is worth reading past at once; an idle stream waits in the next call.
        if (next.docs.length) this.readAhead();
        return next.docs;
      } catch (error) {
        // A cut connection gets one immediate reopen, as the driver's own stream does; a side that stays away
        // is the command's to handle (it checks both sides and resumes from the saved state, or stops with a
        // named error). A killed cursor or an election gets a few, with backoff.
        const cut = error instanceof MongoNetworkError || error instanceof MongoServerSelectionError;
        if (!isTransientReadError(error) || attempt >= (cut ? 2 : RESUME_ATTEMPTS)) throw error;
        await this.cursor.close().catch(() => undefined);
        if (!cut) await sleep(250 * attempt);
        await this.openCursor().catch(() => undefined);
        if (this.batch.length) {
          this.readAhead();
          return this.batch.splice(0);
        }
      }
    }
  }

  /** Events read from the server and not handed out yet. */
  bufferedCount(): number {
    return this.batch.length;
  }

  /**
   * Where to resume so that nothing handed out is read again and nothing else is skipped: the last whole
   * event handed out, or the server's position after a batch once every event of it was handed out.
   */
  get resumeToken(): Document | undefined {
    return this.tokenOf ? this.tokenOf.token : this.token;
  }

  /** The position becomes the server's token (when it has one). */
  private moveTo(token: Document | undefined): void {
    if (!token) return;
    this.token = token;
    this.tokenOf = undefined;
  }

  /** The next whole event, or null when the server had none within the wait. */
  async tryNext(): Promise<ChangeEvent | null> {
    let fetched = false;
    for (;;) {
      const raw = this.batch.shift();
      if (raw) {
        const split = splitInfo(raw);
        if (split) {
          this.fragments.push(raw);
          if (split.fragment < split.of) continue;
          const whole = assembleFragments(this.fragments);
          this.fragments = [];
          return this.handOut(decodeChangeEvent(whole));
        }
        return this.handOut(decodeChangeEvent(raw));
      }
      // One wait per call, unless an event is half read.
      if (fetched && !this.fragments.length) return null;
      const next = await this.fetch();
      this.batch = next;
      fetched = true;
      if (!next.length && !this.fragments.length) this.moveTo(this.batchToken);
    }
  }

  private handOut(event: ChangeEvent): ChangeEvent {
    // After the batch's last event the server's post-batch token is as good and may be further on.
    if (this.batch.length === 0 && this.batchToken) this.moveTo(this.batchToken);
    else this.tokenOf = event;
    return event;
  }

  async close(): Promise<void> {
    // A getMore still in flight holds the cursor's session: let it end (its wait is short) before the kill.
    await this.ahead;
    this.ahead = undefined;
    await this.cursor.close();
  }
}

interface Fetched {
  docs: Buffer[] | null;
  token: Document | undefined;
  error?: unknown;
}

/**
 * The reply a getMore of the stream aims at (raw-cursor.ts readSize): with large events each reply was 16 MB, and
 * the tail holds one read ahead, the one being handed out and the write commands built from it, beside the garbage
 * of the ones before: a burst of 16 KB documents peaked at 263–294 MB of RSS, 240–274 MB (median 254) with replies
 * of ~4 MB (bench/README.md, "large documents' reads"). Small events never reach it at the default batch size
 * (2,500 events of ~500 bytes is about 1.2 MB).
 */
export const READ_BYTES = 4 * 1024 * 1024;

/** Re-opens after a killed cursor or an election before giving up (an election takes seconds). */
const RESUME_ATTEMPTS = 5;

/** $changeStreamSplitLargeEvent exists from MongoDB 7.0 (and 6.0.9, which this does not rely on). */
async function supportsSplitEvents(source: MongoClient): Promise<boolean> {
  const info = await source.db('admin').command({ buildInfo: 1 });
  return Number(String(info.version).split('.')[0]) >= 7;
}
