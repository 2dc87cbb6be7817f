import { Long, ReadPreference, type ClientSession, type Document, type MongoClient } from 'mongodb';

/**
 * A find cursor that hands out each server batch as the documents' raw BSON, one Buffer per document, with no
 * parsing of the documents at all. The driver's own cursor with `raw: true` walks every document of every
 * batch element by element (a few dozen small JS arrays per document) just to hand back its bytes; on a small
 * machine that garbage was a third of the copy's client CPU and most of its memory. Here the reply is decoded
 * with `fieldsAsRaw` on the batch field: the server's array of documents becomes an array of Buffers.
 *
 * Reads go to the primary, in an explicit session: every getMore must reach the server (and the session) that
 * holds the cursor. A failover kills the cursor; the caller reopens from its saved position.
 */
/**
 * Majority-committed data only: a w:1 write the source later rolls back must never be copied, since no change
 * event will ever say it went away (change streams only report majority-committed changes).
 */
const MAJORITY_READ = { level: 'majority' } as const;

export class RawBatchCursor {
  private id: Long | undefined;
  private readonly session: ClientSession;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    private readonly coll: string,
    private readonly find: { filter: Document; sort: Document; batchSize: number },
  ) {
    this.session = client.startSession();
  }

  /** The next non-empty batch, or null once the cursor is exhausted. */
  async next(): Promise<Buffer[] | null> {
    for (;;) {
      if (this.id !== undefined && this.id.isZero()) return null;
      const first = this.id === undefined;
      const command: Document = first
        ? { find: this.coll, filter: this.find.filter, sort: this.find.sort, batchSize: this.find.batchSize, readConcern: MAJORITY_READ }
        : { getMore: this.id, collection: this.coll, batchSize: this.find.batchSize };
      const field = first ? 'firstBatch' : 'nextBatch';
      // fieldsAsRaw is a BSON deserialize option the driver passes through (it uses it for its own cursors)
      // but does not declare in RunCommandOptions; hence the widened options object.
      const options = { session: this.session, readPreference: ReadPreference.primary, fieldsAsRaw: { [field]: true } } as Document;
      const reply = await this.client.db(this.db).command(command, options);
      const cursor = reply.cursor as { id: Long | number | bigint; firstBatch?: unknown[]; nextBatch?: unknown[] };
      this.id = Long.isLong(cursor.id) ? cursor.id : Long.fromValue(cursor.id as number);
      const batch = cursor[field] ?? [];
      if (!batch.every((doc) => Buffer.isBuffer(doc))) throw new Error(`the ${field} of ${this.db}.${this.coll} did not arrive as raw BSON`);
      if (batch.length) return batch as Buffer[];
    }
  }

  /** Kills a cursor that was not exhausted and ends the session. */
  async close(): Promise<void> {
    try {
      if (this.id !== undefined && !this.id.isZero()) {
        await this.client.db(this.db).command({ killCursors: this.coll, cursors: [this.id] }, { session: this.session, readPreference: ReadPreference.primary });
        this.id = Long.ZERO;
      }
    } finally {
      await this.session.endSession();
    }
  }
}
