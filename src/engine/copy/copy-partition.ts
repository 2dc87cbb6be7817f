import { setTimeout as sleep } from 'node:timers/promises';
import { Binary, type Collection, type MongoClient } from 'mongodb';
import { isCatalogRace, isTransient } from '../../mongo/server-errors.js';
import type { SourceCollection } from '../catalog.js';
import type { StateStore } from '../state/store.js';
import type { PartitionDoc } from '../state/types.js';
import { failpoint, pausePoint } from '../failpoints.js';
import { rawIdKey } from '../../mongo/raw-bson.js';
import { partitionFilter } from './partitions.js';
import { RawBatchCursor } from './raw-cursor.js';
import { shortCommandBound } from '../../mongo/stall-bound.js';
import { EXACT_TYPES, insertRaw } from './raw-insert.js';

export { EXACT_TYPES };

/**
 * The documents of one insert at most, and the reply each getMore aims at (raw-cursor.ts readSize). Each document is
 * a view into the reply it came in, so a partition holds the replies behind the batch it fills and the one in flight:
 * with 12 MB inserts and replies of 16 MB (the server's cap; 1,000 documents of 16 KB) a copy of four partitions
 * peaked at 508–532 MB; at 4 MB, 246–276 MB; at 2 MB, 201–218 MB, with no time lost beyond the noise
 * (bench/README.md, "The copy of large documents"). Documents of up to ~2 KB never reach it at the default batch size.
 */
const BATCH_BYTES = 2 * 1024 * 1024;

export interface CopyContext {
  source: MongoClient;
  destination: MongoClient;
  store: StateStore;
  batchSize: number;
  signal: AbortSignal;
  /** Throws when this runner no longer holds the lease. */
  assertLease: () => void;
  onBatch: (partition: PartitionDoc, documents: number, bytes: number) => void;
  /** Finds the collection again by UUID after a failure (a rename kills the cursor); undefined once gone. */
  relocate?: (collection: SourceCollection) => Promise<SourceCollection | undefined>;
}

/**
 * Copies what remains of one partition, batch by batch, saving the last copied _id after each durable batch:
 * a crash loses at most one batch of work and never a document. Documents travel as the raw BSON the source
 * sent (see insertRaw): nothing is decoded but the last _id of a batch, so nothing can be converted.
 */
export async function copyPartition(ctx: CopyContext, collection: SourceCollection, partition: PartitionDoc): Promise<void> {
  await pausePoint('copy:partition');
  const target = ctx.destination.db(collection.target.db).collection(collection.target.coll);
  let from: SourceCollection | undefined = collection;
  for (let attempt = 1; from; attempt++) {
    const copiedBefore = partition.documentsCopied;
    try {
      await copyRemaining(ctx, from, target, partition);
      break;
    } catch (error) {
      // A source step-down or a dropped connection kills the cursor (getMore is not retried by the driver):
      // reopen after the saved last _id, a few times with backoff; a batch that made progress resets the count.
      if (partition.documentsCopied > copiedBefore) attempt = 1;
      if (!isTransientReadError(error) || attempt >= COPY_ATTEMPTS || ctx.signal.aborted) throw error;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
      // A rename or drop kills the cursor too: read on under the collection's new name (or stop: replay drops it).
      if (ctx.relocate) from = await ctx.relocate(collection);
    }
  }
  if (ctx.signal.aborted) return;
  await ctx.store.partitions.updateOne({ _id: partition._id }, { $set: { done: true, claim: null } }, { writeConcern: { w: 'majority' } });
  partition.done = true;
}

const COPY_ATTEMPTS = 6;
/**
 * After which the copy can reopen its cursor: a transient error (elections, shutdowns, a killed or lost
 * cursor) or its collection renamed away, or its name taken by another collection (relocate finds it by UUID).
 * The change stream resumes on the same.
 */
export function isTransientReadError(error: unknown): boolean {
  return isTransient(error) || isCatalogRace(error);
}

/** One pass over what remains of the partition (after its saved last _id); throws what broke it. */
async function copyRemaining(ctx: CopyContext, collection: SourceCollection, target: Collection, partition: PartitionDoc): Promise<void> {
  if (partition.natural && (partition.documentsCopied > 0 || partition.lastId !== undefined)) {
    // Natural order cannot resume mid-way: start the partition again on an emptied target.
    await target.deleteMany({}, { writeConcern: { w: 'majority' } });
    partition.documentsCopied = 0;
    partition.bytesCopied = 0;
  }
  // By UUID too: a collection renamed away and another created under its name must not be read in its place.
  // Each read is bounded (see stall-bound.ts): one batch is a short read, and a reply lost on a path gone silent
  // would otherwise hold the copy (and the slice, past its deadline) until TCP keepalive, ~11 minutes. A stalled
  // read fails as transient and the partition reopens after its saved last _id.
  const cursor = RawBatchCursor.find(ctx.source, collection.db, collection.coll, {
    filter: partitionFilter(partition),
    sort: partition.natural ? { $natural: 1 } : { _id: 1 },
    batchSize: ctx.batchSize,
    replyBytes: BATCH_BYTES,
    ...(collection.uuid ? { collectionUUID: collection.uuid } : {}),
    boundMs: shortCommandBound(),
  });
  let docs: Buffer[] = [];
  let bytes = 0;
  let pending: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (!docs.length) return;
    const batch = docs;
    const batchBytes = bytes;
    docs = [];
    bytes = 0;
    // One batch in flight while the next is read; batches stay in order so the saved last _id only moves
    // forward over durable data. The handler marks the promise handled; `await pending` still throws.
    await pending;
    pending = insertBatch(ctx, collection, batch, batchBytes, partition);
    pending.catch(() => undefined);
  };
  try {
    read: for (let batch = await cursor.next(); batch; batch = await cursor.next()) {
      for (const raw of batch) {
        if (ctx.signal.aborted) break read;
        docs.push(raw);
        bytes += raw.length;
        if (docs.length >= ctx.batchSize || bytes >= BATCH_BYTES) await flush();
      }
    }
    await flush();
  } finally {
    await cursor.close().catch(() => undefined);
    // The batch in flight settles before a retry reads after the last _id (which it moves); its own failure wins.
    await pending;
  }
}

async function insertBatch(ctx: CopyContext, collection: SourceCollection, docs: Buffer[], bytes: number, partition: PartitionDoc): Promise<void> {
  ctx.assertLease();
  // A resumed partition meets the documents of its last unsaved batch again: duplicates are expected.
  // They are counted in full: the run that inserted them died before saving their count with the last _id.
  const { failures } = await insertRaw(ctx.destination, collection.target.db, collection.target.coll, docs, { w: 'majority' });
  if (failures.length) {
    const first = failures[0]!;
    throw Object.assign(new Error(`copy into ${collection.target.db}.${collection.target.coll}: ${failures.length} documents refused, first: ${first.errmsg}`), { code: first.code });
  }
  // The batch's last _id as its bytes, not decoded (see PartitionDoc.lastIdKey): it goes back into the resume query.
  const lastIdKey = partition.natural ? undefined : Buffer.from(rawIdKey(docs[docs.length - 1]!)!);
  partition.documentsCopied += docs.length;
  partition.bytesCopied += bytes;
  if (lastIdKey) partition.lastIdKey = lastIdKey;
  await ctx.store.partitions.updateOne(
    { _id: partition._id },
    { $set: { documentsCopied: partition.documentsCopied, bytesCopied: partition.bytesCopied, ...(lastIdKey ? { lastIdKey: new Binary(lastIdKey) } : {}) } },
    { writeConcern: { w: 'majority' } },
  );
  failpoint('copy:batch-saved');
  ctx.onBatch(partition, docs.length, bytes);
}
