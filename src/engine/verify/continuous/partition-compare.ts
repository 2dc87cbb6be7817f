/**
 * Partition comparison: each collection is compared once per `_id` class on both sides, batch by batch in
 * `_id` order, resuming after the last `_id` compared (kept in the state, so a crash or the next slice goes on
 * where this one stopped). Every document that differs — while the sides still move, usually one the applier
 * has not written yet — goes to the recheck queue instead of being judged here: the queue decides.
 *
 * Each batch reads at most `batchSize` source documents (sorted and limited on the `_id` index), then streams the
 * destination's documents of the same `_id` range: memory is one batch, whatever the collection's size.
 * Ranges stay inside one `_id` class because a range query on `_id` only matches its bound's class.
 */
import { randomUUID } from 'node:crypto';
import { Binary, type Document, type MongoClient } from 'mongodb';
import { EXACT_TYPES } from '../../copy/raw-insert.js';
import { RawBatchCursor } from '../../copy/raw-cursor.js';
import { ID_CLASSES, resumeAfter } from '../../copy/partitions.js';
import { bytesOf, idDocumentOf, rawId, rawIdKey } from '../../../mongo/raw-bson.js';
import { splitNamespace } from '../../../namespaces.js';
import { failpoint } from '../../failpoints.js';
import type { StateStore } from '../../state/store.js';
import type { VerifyPartitionDoc } from '../../state/types.js';
import type { RecheckQueue, TouchedDocument } from './recheck-queue.js';
import type { ComparisonFrontier } from './frontier.js';
import { lastWriteTime } from '../../../mongo/introspection.js';

/** The reply each read of a step aims at (raw-cursor.ts readSize): a step is about one reply a side. */
const REPLY_BYTES = 4 * 1024 * 1024;

export interface PairNames {
  source: string;
  target: string;
}

/** Partitions of one collection: one per `_id` class found on either side (extras on the destination included). */
export async function planVerifyPartitions(source: MongoClient, destination: MongoClient, store: StateStore, pair: PairNames, frontier?: ComparisonFrontier): Promise<VerifyPartitionDoc[]> {
  const classes = new Set<string>();
  for (const [client, name] of [[source, pair.source], [destination, pair.target]] as const) {
    const { db, coll } = splitNamespace(name);
    for (const typeClass of ID_CLASSES) {
      if (classes.has(typeClass)) continue;
      const found = await client.db(db).collection(coll).findOne({ _id: { $type: typeClass } } as Document, { projection: { _id: 1 } });
      if (found) classes.add(typeClass);
    }
  }
  const base = { migration: store.name, source: pair.source, target: pair.target, epoch: randomUUID(), documentsCompared: 0, queued: 0 };
  const id = (suffix: string): string => `${store.name}|${pair.source}|${suffix}`;
  // An empty collection still gets a (done) partition: "planned" is then recorded and coverage counts it.
  const partitions: VerifyPartitionDoc[] = classes.size
    ? [...classes].map((typeClass) => ({ ...base, _id: id(typeClass), typeClass, done: false }))
    : [{ ...base, _id: id('-'), typeClass: '-', done: true, doneAt: new Date() }];
  for (const p of partitions) {
    const planned = await store.verifyPartitions.findOneAndUpdate({ _id: p._id }, { $setOnInsert: p }, { upsert: true, returnDocument: 'after', writeConcern: { w: 'majority' }, ...EXACT_TYPES });
    // What the state holds (a partition planned meanwhile by an earlier run is kept as it is).
    if (planned) frontier?.learn(planned);
  }
  return partitions;
}

/** The partitions still to compare, with their last `_id` in its exact BSON type. */
export async function openPartitions(store: StateStore, limit = 100): Promise<VerifyPartitionDoc[]> {
  return store.verifyPartitions.find({ migration: store.name, done: false }, { ...EXACT_TYPES, limit, sort: { _id: 1 } }).toArray();
}

export interface StepResult {
  compared: number;
  /** Bytes of the source documents compared (the caller sizes the next step from it). */
  bytes: number;
  queued: number;
  done: boolean;
}

/** Compares the next batch of one partition, queues what differs, and saves the progress. */
export async function comparePartitionStep(source: MongoClient, destination: MongoClient, store: StateStore, queue: RecheckQueue, partition: VerifyPartitionDoc, batchSize: number, options: StepOptions = { moving: true }): Promise<StepResult> {
  const { frontier } = options;
  frontier?.begin(partition);
  let saved: SavedStep | undefined;
  try {
    const result = await compareStep(source, destination, store, queue, partition, batchSize, options);
    saved = result.saved;
    return result;
  } finally {
    frontier?.end(partition, saved);
  }
}

export interface StepOptions {
  /** Told of the step before its first read and of the progress once saved (see frontier.ts). */
  frontier?: ComparisonFrontier;
  /**
   * The sides still move (the tail runs): every change the source had made when the step began is at or before
   * the time read first, and a difference found may be one the tail has not applied yet, so its recheck waits
   * until the tail's saved position passes that time (see recheckEntries), as the feed's entries wait for their event.
   */
  moving: boolean;
  /**
   * The batch size comes from this collection's documents as measured (StepSizer): the first read asks for all of
   * it, not for a few documents to learn their size first (one round trip less per step).
   */
  measured?: boolean;
}

/** What a step saved: the last `_id` compared (key bytes; absent when the step read nothing) and whether the partition is done. */
export interface SavedStep {
  lastKey?: Buffer;
  done: boolean;
}

async function compareStep(source: MongoClient, destination: MongoClient, store: StateStore, queue: RecheckQueue, partition: VerifyPartitionDoc, batchSize: number, options: StepOptions): Promise<StepResult & { saved?: SavedStep }> {
  const readFrom = options.moving ? await lastWriteTime(source, 'applied') : undefined;
  const src = splitNamespace(partition.source);
  const dst = splitNamespace(partition.target);
  const resumed = resumeAfter(partition);
  const after = resumed ? { $gt: resumed.value } : {};
  // At most batchSize documents, and no more than a step's bytes: the first step of a partition knows nothing of
  // its documents' size (StepSizer), and the step holds what it read while it reads the destination.
  const reader = RawBatchCursor.find(source, src.db, src.coll, { filter: { _id: { $type: partition.typeClass, ...after } }, sort: { _id: 1 }, batchSize, limit: batchSize, replyBytes: REPLY_BYTES, ...(options.measured ? { readSize: batchSize } : {}) });
  const batch: Buffer[] = [];
  let bytes = 0;
  let exhausted = false;
  try {
    while (bytes < StepSizer.BYTES) {
      const docs = await reader.next();
      if (!docs) {
        exhausted = batch.length < batchSize;
        break;
      }
      // Copied out of the reply buffer: the batch is held while the destination is read.
      for (const raw of docs) {
        batch.push(Buffer.from(raw));
        bytes += raw.length;
      }
    }
  } finally {
    await reader.close().catch(() => undefined);
  }
  const pending = new Map<string, Buffer>();
  for (const copy of batch) pending.set(rawIdKey(copy)!.toString('hex'), copy);
  const last = batch.length ? rawId(batch[batch.length - 1]!) : undefined;
  const range: Document = { $type: partition.typeClass, ...after };
  // The last batch also takes whatever the destination holds beyond the source's last _id (extra documents).
  if (!exhausted && last) range.$lte = last.value;
  const differing: TouchedDocument[] = [];
  const touched = (key: Buffer): void => {
    differing.push({ source: partition.source, target: partition.target, key: idDocumentOf(key), ...(readFrom ? { at: readFrom } : {}) });
  };
  // Read in server batches and compared as they come: the destination side is never held whole. Its copies of
  // the documents just read are about as large: the first read asks for as many (and one extra beyond).
  const measured = batch.length ? { readSize: batch.length + 1 } : {};
  const cursor = RawBatchCursor.find(destination, dst.db, dst.coll, { filter: { _id: range }, sort: { _id: 1 }, batchSize: Math.max(batchSize, 1000), replyBytes: REPLY_BYTES, ...measured });
  try {
    for (let docs = await cursor.next(); docs; docs = await cursor.next()) {
      for (const raw of docs) {
        const key = rawIdKey(raw)!;
        const hex = key.toString('hex');
        const partner = pending.get(hex);
        if (!partner) touched(Buffer.from(key));
        else {
          if (!partner.equals(raw)) touched(Buffer.from(key));
          pending.delete(hex);
        }
      }
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  for (const hex of pending.keys()) touched(Buffer.from(hex, 'hex'));
  // Queued before the progress is saved: a crash in between compares the batch again, never skips it.
  await queue.touch(differing);
  failpoint('verify:partition-queued');
  const set: Document = exhausted ? { done: true, doneAt: new Date() } : {};
  if (last) set.lastIdKey = new Binary(last.key);
  // Only the partition this step read: one reset by DDL (and planned again) meanwhile has another epoch.
  const update = await store.verifyPartitions.updateOne({ _id: partition._id, epoch: partition.epoch }, { $set: set, $inc: { documentsCompared: batch.length, queued: differing.length } }, { writeConcern: { w: 'majority' } });
  const result = { compared: batch.length, bytes, queued: differing.length, done: exhausted };
  const lastKey = last?.key ?? (partition.lastIdKey ? bytesOf(partition.lastIdKey) : undefined);
  return update.matchedCount ? { ...result, saved: { ...(lastKey ? { lastKey } : {}), done: exhausted } } : result;
}

/**
 * Sizes partition steps by bytes: a step holds its source documents while it reads the destination's range, and
 * each step costs a few round trips and a state write whatever its size, so small steps spend their time on
 * overhead (measured here: 4,000 documents of 1 KB per step compared about twice as fast as 1,000).
 */
export class StepSizer {
  static readonly BYTES = 4 * 1024 * 1024;
  /** Mean source document size seen by the last step of each source collection; cautious until then. */
  private readonly bytesPerDocument = new Map<string, number>();

  constructor(private readonly frontier?: ComparisonFrontier, private readonly options: { moving: boolean } = { moving: true }) {}

  async run(source: MongoClient, destination: MongoClient, store: StateStore, queue: RecheckQueue, partition: VerifyPartitionDoc): Promise<StepResult> {
    const known = this.bytesPerDocument.get(partition.source);
    const documents = Math.max(50, Math.min(10_000, Math.floor(StepSizer.BYTES / (known ?? 4096))));
    const result = await comparePartitionStep(source, destination, store, queue, partition, documents, { ...(this.frontier ? { frontier: this.frontier } : {}), moving: this.options.moving, measured: known !== undefined });
    if (result.compared) this.bytesPerDocument.set(partition.source, Math.max(64, result.bytes / result.compared));
    return result;
  }
}


