import { type ChangeStream, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { EXACT_TYPES } from '../../copy/raw-insert.js';
import { STATE_DB, type DatabaseCondition } from '../../../namespaces.js';
import { lastWriteTime } from '../../../mongo/introspection.js';
import { isHistoryLost } from '../../../mongo/server-errors.js';
import { tokenTime } from '../../position.js';
import type { StateStore } from '../../state/store.js';
import type { RecheckQueue, TouchedDocument } from './recheck-queue.js';
import type { ComparisonFrontier } from './frontier.js';
import type { TouchedKeys } from './touched-keys.js';

interface DestinationEvent {
  _id: Document;
  ns?: { db: string; coll?: string };
  /** The document key as the server wrote it: its raw bytes, alone in an array (see KEY_AS_STORED). */
  key?: Buffer[];
  clusterTime?: Timestamp;
}

/**
 * The document key comes as the one element of an array the stream's projection builds, which the BSON library
 * hands over as raw bytes (`fieldsAsRaw` applies to arrays). Decoded into a JS object and encoded again, an `_id`
 * document with integer-like field names ({"10": 1, "9": "x"}) came back in another field order, another `_id`:
 * its recheck read a document neither side holds, and a write behind the migration's back went unreported.
 */
const KEY_AS_STORED = { fieldsAsRaw: { key: true } } as const;

/**
 * Watches the destination for data writes to the migration's namespaces and queues each written document for
 * a recheck: the point of it is writes that are not ours. The applier's own writes cost nothing where this
 * process knows a comparison covers them (its logged touches, see touched-keys.ts); any other write is queued
 * (RecheckQueue.ensure leaves an entry already waiting as it is). Its position is saved in the migration document after what it read is queued, so
 * a crash queues some documents twice and misses none.
 */
export class DestinationWatch {
  private stream: ChangeStream<Document, DestinationEvent> | undefined;
  private lastSaved: Document | undefined;
  /** The saved position had left the destination's oplog; every partition was reset (see restartAfterLostHistory). */
  historyLost = false;

  constructor(
    private readonly destination: MongoClient,
    private readonly store: StateStore,
    private readonly queue: RecheckQueue,
    /** Destination namespace → source namespace, or undefined for a namespace that is not the migration's. */
    private readonly sourceOf: (target: string) => string | undefined,
    /** The destination databases the migration writes (NamespaceFilter.targetDatabaseCondition; undefined: any). */
    private readonly databases: DatabaseCondition | undefined,
    /** Documents a partition comparison has still to read are left to it (see frontier.ts). */
    private readonly frontier?: ComparisonFrontier,
    /** Writes a comparison of the tail's logged touches sees are left to it (see touched-keys.ts). */
    private readonly touched?: TouchedKeys,
  ) {}

  /** Opens at the saved position, or now (with the position saved at once: the comparisons start after it). */
  async open(saved: Document | undefined): Promise<void> {
    const pipeline = [
      // Filtered by the server: a destination that also serves other applications must not cost a read of all their writes.
      { $match: { operationType: { $in: ['insert', 'update', 'replace', 'delete'] }, 'ns.db': { $ne: STATE_DB, ...this.databases } } },
      // Only what the queue needs: the update's description or a large document would only cost bytes.
      { $project: { ns: 1, key: ['$documentKey'], clusterTime: 1 } },
    ];
    let start: Document = saved ? { resumeAfter: saved } : {};
    if (!saved) {
      start = { startAtOperationTime: await lastWriteTime(this.destination, 'applied') };
    }
    this.stream = this.destination.watch<Document, DestinationEvent>(pipeline, { ...start, ...EXACT_TYPES, ...KEY_AS_STORED, batchSize: 1000, maxAwaitTimeMS: 20 });
    if (!saved) {
      // The first getMore makes the stream hand out a resume token for its start.
      await this.stream.tryNext().then((event) => event && this.queueEvents([event]));
      await this.save();
    }
  }

  /**
   * Reads what has arrived (up to `max` events: memory stays bounded however far behind the watch is) and queues
   * it. With `until`, reads on until the stream's position has passed that destination time, or `max` events were
   * read (then `passed` is false and the caller pumps again): the cutover, where every write before it is queued.
   */
  async pump(max = 1000, until?: Timestamp): Promise<{ queued: number; passed: boolean }> {
    const events: DestinationEvent[] = [];
    let passed = until === undefined;
    for (let spins = 0; events.length < max; spins++) {
      const stream = this.stream!;
      const event = await stream.tryNext().catch(async (error: unknown) => {
        if (!isHistoryLost(error)) throw error;
        await this.restartAfterLostHistory(events);
        return null;
      });
      if (event) {
        events.push(event);
        continue;
      }
      if (!passed) {
        const at = tokenTime(stream.resumeToken as Document | undefined);
        // Strictly after: the caller writes once after taking `until`, so the stream has a later point to reach.
        passed = at !== undefined && at.greaterThan(until!);
      }
      if (passed || spins > 250) break;
    }
    await this.queueEvents(events);
    await this.save();
    if (!passed && events.length < max) throw new Error('the destination change stream did not reach the cutover time');
    return { queued: events.length, passed };
  }

  /**
   * The destination's oplog no longer holds the saved position (the watch stayed behind longer than its window):
   * the writes in between are unknown, so every partition is compared again from scratch. The stream opens at
   * now first, then the comparisons restart: a write is either seen by the stream or read by a comparison.
   */
  private async restartAfterLostHistory(read: DestinationEvent[]): Promise<void> {
    await this.queueEvents(read.splice(0));
    await this.stream?.close().catch(() => undefined);
    this.lastSaved = undefined;
    await this.open(undefined);
    this.frontier?.forgetAll();
    await this.store.verifyPartitions.deleteMany({ migration: this.store.name }, { writeConcern: { w: 'majority' } });
    this.historyLost = true;
  }

  private async queueEvents(events: DestinationEvent[]): Promise<void> {
    const docs: TouchedDocument[] = [];
    for (const event of events) {
      const stored = event.key?.[0];
      if (!event.ns?.coll || !Buffer.isBuffer(stored)) continue;
      const target = `${event.ns.db}.${event.ns.coll}`;
      const source = this.sourceOf(target);
      if (!source) continue;
      // Copied out of the reply it is a view into: the queue keeps it past this batch.
      const key = Buffer.from(stored);
      if (event.clusterTime && this.touched?.covers(target, key, event.clusterTime)) continue;
      if (!this.frontier?.willCompare(source, key)) docs.push({ source, target, key });
    }
    await this.queue.ensure(docs);
  }

  private async save(): Promise<void> {
    const token = this.stream?.resumeToken as Document | undefined;
    if (!token || token === this.lastSaved) return;
    await this.store.migrations.updateOne({ _id: this.store.name }, { $set: { 'verification.destinationToken': token } }, { writeConcern: { w: 'majority' } });
    this.lastSaved = token;
  }

  async close(): Promise<void> {
    await this.save().catch(() => undefined);
    await this.stream?.close().catch(() => undefined);
  }
}
