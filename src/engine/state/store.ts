import type { ClientSession, Collection, Db, Document, MongoClient, Timestamp } from 'mongodb';
import { OperationError } from '../../errors.js';
import type { Phase } from '../../model.js';
import { ignoreCodes, SERVER_ERROR } from '../../mongo/server-errors.js';
import { abortable, withinShortBound } from '../../mongo/stall-bound.js';
import { STATE_DB } from '../../namespaces.js';
import { STATE_COLLECTIONS, type BufferDoc, type Fence, type MigrationDoc, type PartitionDoc, type RecheckDoc, type RelaxedIndexDoc, type TouchLogDoc, type VerifyPartitionDoc } from './types.js';

/** State writes wait for a majority: a state that a failover can roll back would resume from a lie. */
const MAJORITY = { writeConcern: { w: 'majority' as const } };
const LAG_HISTORY_LIMIT = 120;

/** The update operator that adds a lag sample (taken now, to the hundredth) to the migration document's bounded history. */
export function lagSample(lagSeconds: number): Document {
  return { $push: { lagHistory: { $each: [{ at: new Date().toISOString(), lagSeconds: hundredths(lagSeconds) }], $slice: -LAG_HISTORY_LIMIT } } };
}

function hundredths(seconds: number): number {
  return Number(seconds.toFixed(2));
}

/**
 * The migration's durable memory, kept in the destination so that any runner, any day, resumes from it.
 * Every write that moves the migration forward is conditional on still holding the lease. Reads and writes of the
 * one small migration document are short even when they wait for a majority: each runs within the command bound
 * (a transient error when it gets no reply; see mongo/stall-bound.ts).
 */
export class StateStore {
  readonly db: Db;
  readonly migrations: Collection<MigrationDoc>;
  readonly partitions: Collection<PartitionDoc>;
  readonly buffer: Collection<BufferDoc>;
  readonly relaxedIndexes: Collection<RelaxedIndexDoc>;
  readonly verifyPartitions: Collection<VerifyPartitionDoc>;
  readonly recheck: Collection<RecheckDoc>;
  readonly touchLog: Collection<TouchLogDoc>;

  constructor(readonly client: MongoClient, readonly name: string) {
    this.db = client.db(STATE_DB);
    this.migrations = this.db.collection(STATE_COLLECTIONS.migrations);
    this.partitions = this.db.collection(STATE_COLLECTIONS.partitions);
    this.buffer = this.db.collection(STATE_COLLECTIONS.buffer);
    this.relaxedIndexes = this.db.collection(STATE_COLLECTIONS.relaxedIndexes);
    this.verifyPartitions = this.db.collection(STATE_COLLECTIONS.verifyPartitions);
    this.recheck = this.db.collection(STATE_COLLECTIONS.recheck);
    this.touchLog = this.db.collection(STATE_COLLECTIONS.touchLog);
  }

  /** Creates the state collections once (explicitly: concurrent implicit creation is unsafe). */
  async ensureSchema(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of Object.values(STATE_COLLECTIONS)) {
      if (existing.has(name)) continue;
      // NamespaceExists: another runner created it first.
      await this.db.createCollection(name).catch(ignoreCodes(SERVER_ERROR.NamespaceExists));
    }
    // Only when missing: every run opens the store, and createIndexes waits behind any lock on the collection.
    await ensureIndex(this.partitions, { migration: 1, source: 1 });
    await ensureIndex(this.relaxedIndexes, { migration: 1 });
    await ensureIndex(this.verifyPartitions, { migration: 1, source: 1 });
    // Rechecks take the entries that are due first; the queue is read in this order, never held.
    await ensureIndex(this.recheck, { m: 1, due: 1 });
    // Logged touches are compared oldest first, once the saved position has passed them.
    await ensureIndex(this.touchLog, { m: 1, at: 1 });
  }

  async get(): Promise<MigrationDoc | null> {
    return withinShortBound('reading the migration state', (signal) => this.migrations.findOne({ _id: this.name }, { signal }));
  }

  /** The migration document, which an open run knows exists: its absence is an error, not a null to assert away. */
  async current(): Promise<MigrationDoc> {
    const doc = await this.get();
    if (!doc) throw new OperationError(`the state of migration "${this.name}" disappeared from the destination while this run used it`, 'another run aborted it with --drop-destination; check `status`');
    return doc;
  }

  async create(doc: MigrationDoc): Promise<void> {
    await this.migrations.insertOne(doc, MAJORITY);
  }

  /** Updates the migration document while `owner` holds the lease; false when the lease was lost. */
  async update(owner: string, set: Partial<MigrationDoc> | Document, extra: Document = {}): Promise<boolean> {
    const result = await withinShortBound('updating the migration state', (signal) => this.migrations.updateOne({ _id: this.name, 'lease.owner': owner }, { $set: { ...set, updatedAt: new Date() }, ...extra }, abortable(MAJORITY, signal)));
    return result.matchedCount === 1;
  }

  /**
   * The save fence (see apply/write-terms.ts): a w: 1 write into the migration document while `owner` holds the
   * lease. Returns the server's reply: `n` (0 when the lease was lost) and the `opTime` that tells its term.
   */
  async writeFence(owner: string, fence: Fence): Promise<Document> {
    const update = { q: { _id: this.name, 'lease.owner': owner }, u: { $set: { [fence.field]: fence.value } } };
    return checkedReply(await withinShortBound('writing the save fence', (signal) => this.db.command({ update: STATE_COLLECTIONS.migrations, updates: [update], writeConcern: { w: 1 } }, { signal })), 'writing the save fence');
  }

  /**
   * Like update(), only where the save fence is `fence` (when one is given); returns the server's reply (`n` is
   * 0 when the lease was lost or the fence is not there; `opTime` tells the term). Waits for a majority.
   */
  async updateFenced(owner: string, fence: Fence | undefined, set: Partial<MigrationDoc> | Document, extra: Document = {}): Promise<Document> {
    const update = { q: { _id: this.name, 'lease.owner': owner, ...(fence !== undefined ? { [fence.field]: fence.value } : {}) }, u: { $set: { ...set, updatedAt: new Date() }, ...extra } };
    return checkedReply(await withinShortBound('saving the position', (signal) => this.db.command({ update: STATE_COLLECTIONS.migrations, updates: [update], ...MAJORITY }, { signal })), 'saving the position');
  }

  /**
   * Updates like update() and returns the document as it now stands: written, or as it was when `owner` no
   * longer holds the lease (the caller's next lease check stops the run).
   */
  async write(owner: string, set: Partial<MigrationDoc> | Document, extra: Document = {}): Promise<MigrationDoc> {
    const written = await withinShortBound('updating the migration state', (signal) =>
      this.migrations.findOneAndUpdate({ _id: this.name, 'lease.owner': owner }, { $set: { ...set, updatedAt: new Date() }, ...extra }, abortable({ ...MAJORITY, returnDocument: 'after' as const }, signal)),
    );
    return written ?? this.current();
  }

  /** Records a phase change with who made it (the history is what `status` tells); returns the new document. */
  async transition(owner: string, phase: Phase, runner: string, note?: string, set: Document = {}): Promise<MigrationDoc> {
    const entry = { phase, at: new Date(), runner, ...(note ? { note } : {}) };
    return this.write(owner, { ...set, phase }, { $push: { history: entry } });
  }

  /**
   * Raises the read horizon (see apply/read-horizon.ts) to at least `time`, durably; false when `owner` no longer
   * holds the lease. Without an owner (a cutover step that holds the migration otherwise) it raises regardless:
   * a higher horizon only costs lookups.
   */
  async raiseReadHorizon(owner: string | undefined, time: Timestamp): Promise<boolean> {
    if (owner !== undefined) return this.update(owner, {}, { $max: { readHorizon: time } });
    const result = await withinShortBound('raising the read horizon', (signal) => this.migrations.updateOne({ _id: this.name }, { $max: { readHorizon: time } }, abortable(MAJORITY, signal)));
    return result.matchedCount === 1;
  }

  async recordLag(owner: string, lagSeconds: number): Promise<void> {
    await withinShortBound('recording the lag', (signal) => this.migrations.updateOne({ _id: this.name, 'lease.owner': owner }, { $set: { lagSeconds: hundredths(lagSeconds) }, ...lagSample(lagSeconds) }, abortable(MAJORITY, signal)));
  }

  async partitionsOf(): Promise<PartitionDoc[]> {
    return this.partitions.find({ migration: this.name }).sort({ _id: 1 }).toArray();
  }

  async bufferEnd(session?: ClientSession): Promise<BufferDoc | null> {
    return this.buffer.find({ '_id.m': this.name }, { session }).sort({ '_id.m': 1, '_id.seq': -1 }).limit(1).next();
  }

  /** Removes every trace of this migration from the state database. */
  async drop(): Promise<void> {
    await Promise.all([
      this.migrations.deleteOne({ _id: this.name }, MAJORITY),
      this.partitions.deleteMany({ migration: this.name }, MAJORITY),
      this.buffer.deleteMany({ '_id.m': this.name }, MAJORITY),
      this.relaxedIndexes.deleteMany({ migration: this.name }, MAJORITY),
      this.verifyPartitions.deleteMany({ migration: this.name }, MAJORITY),
      this.recheck.deleteMany({ m: this.name }, MAJORITY),
      this.touchLog.deleteMany({ m: this.name }, MAJORITY),
    ]);
  }
}

async function ensureIndex<T extends Document>(collection: Collection<T>, key: Record<string, 1>): Promise<void> {
  const existing = await collection.listIndexes().toArray();
  if (existing.some((index) => JSON.stringify(index.key) === JSON.stringify(key))) return;
  await collection.createIndex(key);
}

export { MAJORITY };

/**
 * A write command's reply whose errors are thrown with their codes: a write interrupted by a step-down comes back
 * as `ok: 1, n: 0` with the error inside (InterruptedDueToReplStateChange), and must read as the transient error it
 * is, not as "no document matched" (a lost lease).
 */
export function checkedReply(reply: Document, what: string): Document {
  const concern = reply.writeConcernError as { code?: number; errmsg?: string } | undefined;
  if (concern) throw Object.assign(new Error(`write concern error ${what}: ${concern.errmsg ?? JSON.stringify(concern)}`), { code: concern.code });
  const errors = reply.writeErrors as { code: number; errmsg: string }[] | undefined;
  if (errors?.length) throw Object.assign(new Error(`${what}: ${errors[0]!.errmsg}`), { code: errors[0]!.code });
  return reply;
}
