import { Long, ReadPreference, Timestamp, UUID, type ClientSession, type Document, type MongoClient } from 'mongodb';
import { withinBound } from '../../mongo/stall-bound.js';

/**
 * The `collectionUUID` field of a read command: with it the server refuses (CollectionUUIDMismatch, 6.0+) a name
 * that now belongs to another collection, instead of reading the newcomer.
 */
export function sameCollection(uuid: string | undefined): { collectionUUID?: UUID } {
  return uuid ? { collectionUUID: new UUID(uuid) } : {};
}

/** A command that opens a cursor, and how to continue it. */
export interface RawCursorSpec {
  db: string;
  /** The command that opens the cursor (find, aggregate). */
  open: Document;
  /** The `collection` of its getMores ('$cmd.aggregate' for a database-level aggregate). */
  collection: string;
  batchSize: number;
  /**
   * Bytes a reply aims at (see readSize): after each non-empty batch, the next getMore asks for fewer documents than
   * the batch size where documents of that batch's mean size would fill more. Without it every getMore asks for the
   * batch size, and the server ends a reply only at 16 MB.
   */
  replyBytes?: number;
  /**
   * Documents the first getMore asks for, where an earlier cursor over the same documents measured them (a reopened
   * change stream); the batch size when absent.
   */
  readSize?: number;
  /** How long a getMore of an awaitData cursor (a change stream) waits for new results. */
  maxAwaitTimeMS?: number;
  /** Each command is aborted (a transient error) when it takes longer than this (see stall-bound.ts). */
  boundMs?: number;
}

/**
 * A cursor that hands out each server batch as the documents' raw BSON, one Buffer per document, with no
 * parsing of the documents at all. The driver's own cursor with `raw: true` walks every document of every
 * batch element by element (a few dozen small JS arrays per document) just to hand back its bytes; on a small
 * machine that garbage was a third of the copy's client CPU and most of its memory. Here the reply is decoded
 * with `fieldsAsRaw` on the batch field: the server's array of documents becomes an array of Buffers.
 *
 * Reads go to the primary, in an explicit session: every getMore must reach the server (and the session) that
 * holds the cursor. A failover kills the cursor; the caller reopens from its saved position.
 */
export class RawBatchCursor {
  private id: Long | undefined;
  private readonly session: ClientSession;
  /** The resume token after the last batch (change streams). */
  postBatchResumeToken: Document | undefined;
  /** The latest cluster time the server's replies carried: no document this cursor read is from a later time. */
  clusterTime: Timestamp | undefined;
  /** Documents the next getMore asks for: the batch size, fewer where documents are large (spec.replyBytes). */
  private readSize: number;

  constructor(
    private readonly client: MongoClient,
    private readonly spec: RawCursorSpec,
  ) {
    this.session = client.startSession();
    this.readSize = Math.min(spec.batchSize, spec.readSize ?? spec.batchSize);
  }

  /** Documents the next getMore asks for (see readSize). */
  get nextReadSize(): number {
    return this.readSize;
  }

  /**
   * A find of majority-committed data only: a w:1 write the source later rolls back must never be copied,
   * since no change event will ever say it went away (change streams only report majority-committed changes).
   * `readConcern` replaces that for a read of another point in time (a snapshot read at a cluster time).
   */
  static find(client: MongoClient, db: string, coll: string, find: { filter: Document; sort: Document; projection?: Document; batchSize: number; limit?: number; collectionUUID?: string; boundMs?: number; replyBytes?: number; readSize?: number; readConcern?: Document }): RawBatchCursor {
    const { boundMs, replyBytes } = find;
    // Sized by bytes, the first batch is small unless the caller measured these documents already (`readSize`):
    // nothing else is known of their size before it.
    const first = replyBytes === undefined ? find.batchSize : Math.min(find.batchSize, find.readSize ?? FIRST_SIZED_BATCH);
    const open = { find: coll, filter: find.filter, sort: find.sort, ...(find.projection ? { projection: find.projection } : {}), batchSize: first, ...(find.limit ? { limit: find.limit } : {}), ...sameCollection(find.collectionUUID), readConcern: find.readConcern ?? { level: 'majority' } };
    return new RawBatchCursor(client, { db, open, collection: coll, batchSize: find.batchSize, ...(boundMs !== undefined ? { boundMs } : {}), ...(replyBytes !== undefined ? { replyBytes } : {}) });
  }

  get exhausted(): boolean {
    return this.id !== undefined && this.id.isZero();
  }

  /** The next batch (empty when an awaitData cursor had nothing new), or null once the cursor is exhausted. */
  async nextBatch(): Promise<Buffer[] | null> {
    if (this.exhausted) return null;
    const first = this.id === undefined;
    const { spec } = this;
    const command: Document = first
      ? spec.open
      : { getMore: this.id, collection: spec.collection, batchSize: this.readSize, ...(spec.maxAwaitTimeMS !== undefined ? { maxTimeMS: spec.maxAwaitTimeMS } : {}) };
    const field = first ? 'firstBatch' : 'nextBatch';
    // fieldsAsRaw is a BSON deserialize option the driver passes through (it uses it for its own cursors)
    // but does not declare in RunCommandOptions; hence the widened options object.
    const options = { session: this.session, readPreference: ReadPreference.primary, fieldsAsRaw: { [field]: true } } as Document;
    const reply = await this.command(first ? Object.keys(spec.open)[0]! : 'getMore', command, options);
    const cursor = reply.cursor as { id: Long | number | bigint; firstBatch?: unknown[]; nextBatch?: unknown[]; postBatchResumeToken?: Document };
    this.id = Long.isLong(cursor.id) ? cursor.id : Long.fromValue(cursor.id as number);
    if (cursor.postBatchResumeToken) this.postBatchResumeToken = cursor.postBatchResumeToken;
    const time = (reply.$clusterTime as { clusterTime?: unknown } | undefined)?.clusterTime;
    if (time instanceof Timestamp && (!this.clusterTime || time.greaterThan(this.clusterTime))) this.clusterTime = time;
    const batch = cursor[field] ?? [];
    if (!batch.every((doc) => Buffer.isBuffer(doc))) throw new Error(`the ${field} of ${spec.db}.${spec.collection} did not arrive as raw BSON`);
    if (spec.replyBytes !== undefined && batch.length) this.readSize = readSize(batch as Buffer[], spec.batchSize, spec.replyBytes);
    return batch as Buffer[];
  }

  /** Runs one command of this cursor, within the spec's bound if it has one. */
  private async command(name: string, command: Document, options: Document): Promise<Document> {
    const { boundMs, db, collection } = this.spec;
    if (boundMs === undefined) return this.client.db(db).command(command, options);
    return withinBound(`a ${name} on ${db}.${collection}`, boundMs, (signal) => this.client.db(db).command(command, { ...options, signal }));
  }

  /** The next non-empty batch, or null once the cursor is exhausted. */
  async next(): Promise<Buffer[] | null> {
    for (;;) {
      const batch = await this.nextBatch();
      if (batch === null || batch.length) return batch;
    }
  }

  /** Every remaining document (views into the replies), then closes the cursor: for reads bounded by their query. */
  async toArray(): Promise<Buffer[]> {
    const out: Buffer[] = [];
    try {
      for (let docs = await this.next(); docs; docs = await this.next()) out.push(...docs);
    } finally {
      await this.close().catch(() => undefined);
    }
    return out;
  }

  /** Kills a cursor that was not exhausted and ends the session. */
  async close(): Promise<void> {
    try {
      if (this.id !== undefined && !this.id.isZero()) {
        await this.command('killCursors', { killCursors: this.spec.collection, cursors: [this.id] }, { session: this.session, readPreference: ReadPreference.primary });
        this.id = Long.ZERO;
      }
    } finally {
      await this.session.endSession();
    }
  }
}

/**
 * The first batch of a find sized by bytes and not told the documents' size: 4 MB of 256 KB documents (64 made
 * 12.8 MB of 200 KB ones), and only larger ones reach the server's 16 MB. Small ones pay a round trip more, once
 * per cursor: the copy opens one per partition, continuous verification sizes its steps from the last (`readSize`).
 */
const FIRST_SIZED_BATCH = 16;

/**
 * Documents a getMore asks for after a read of these (not empty): the batch size, or fewer where documents of their
 * mean size would fill more than `replyBytes` (at least one). The server ends a reply at the batch size or at 16 MB,
 * whichever comes first, and every document handed out is a view into its reply: with large documents each reply
 * was 16 MB, and a reader holding a few of them (read ahead, being written) held that many times 16 MB. Judged on
 * the last read alone, so a cursor whose documents shrink again reads whole batches at the next read.
 */
export function readSize(read: readonly Buffer[], batchSize: number, replyBytes: number): number {
  let bytes = 0;
  for (const doc of read) bytes += doc.length;
  return Math.max(1, Math.min(batchSize, Math.floor((replyBytes * read.length) / bytes)));
}
