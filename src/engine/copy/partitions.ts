import { Binary, ReadPreference, type Document, type MongoClient } from 'mongodb';
import type { SourceCollection } from '../catalog.js';
import type { PartitionDoc } from '../state/types.js';
import { RawBatchCursor, sameCollection } from './raw-cursor.js';
import { bytesOf, decodeIdKey, rawIdKey } from '../../mongo/raw-bson.js';

/**
 * `$type` aliases of the BSON comparison classes an _id can belong to, in MongoDB's sort order. A range
 * query on _id only matches values of its bound's class ("type bracketing"), so every partition is a range
 * within one class and a collection with mixed _id types gets one set of partitions per class.
 */
export const ID_CLASSES = ['minKey', 'null', 'number', 'string', 'symbol', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex', 'dbPointer', 'javascript', 'javascriptWithScope', 'maxKey'] as const;

// Majority reads like the copy itself: split points and _id classes must not come from rolled-back writes.
const READ_CONCERN = { level: 'majority' } as const;

export interface PartitionOptions {
  migration: string;
  /** The planned source name (the collection may be read under another one since a rename). */
  source: string;
  partitionSizeBytes: number;
}

/**
 * Splits a collection into partitions: per _id class, and by sampled split points when it is large. Every read
 * names the collection's UUID (collectionUUID): a name another collection took since the copy located this one
 * fails (CollectionUUIDMismatch, or NamespaceNotFound once the name is free) instead of answering for it, which
 * would plan this collection's ranges from the other's _id classes and leave the documents of the classes only
 * this one holds uncopied. The caller finds the collection again by UUID and plans once more.
 */
export async function planPartitions(source: MongoClient, collection: SourceCollection, options: PartitionOptions): Promise<PartitionDoc[]> {
  const sourceNs = options.source;
  const base = { migration: options.migration, source: sourceNs, target: `${collection.target.db}.${collection.target.coll}`, documentsCopied: 0, bytesCopied: 0, done: false, claim: null };
  const id = (suffix: string): string => `${options.migration}|${sourceNs}|${suffix}`;
  if (collection.kind === 'capped') {
    // Insertion order is the meaning of a capped collection: one partition, natural order.
    return [{ ...base, _id: id('natural'), typeClass: 'any', natural: true }];
  }
  const classes: string[] = [];
  for (const typeClass of ID_CLASSES) if (await holdsIdClass(source, collection, typeClass)) classes.push(typeClass);
  const partitions: PartitionDoc[] = [];
  const splitCount = Math.min(256, Math.floor(collection.bytes / Math.max(1, options.partitionSizeBytes)));
  for (const typeClass of classes) {
    // Only the first class (almost always the only one) is split; other classes are rare leftovers.
    const splits = typeClass === classes[0] && splitCount > 0 ? await sampleSplitPoints(source, collection, typeClass, splitCount) : [];
    const bounds = [undefined, ...splits, undefined];
    for (let i = 0; i + 1 < bounds.length; i++) {
      // Open bounds are left out, not stored: the driver would write undefined as null, a real _id value.
      const partition: PartitionDoc = { ...base, _id: id(`${typeClass}-${String(i).padStart(4, '0')}`), typeClass, natural: false };
      if (bounds[i] !== undefined) partition.minKey = new Binary(bounds[i]);
      if (bounds[i + 1] !== undefined) partition.maxKey = new Binary(bounds[i + 1]);
      partitions.push(partition);
    }
  }
  return partitions;
}

async function holdsIdClass(source: MongoClient, collection: SourceCollection, typeClass: string): Promise<boolean> {
  const reply = await source.db(collection.db).command(
    { find: collection.coll, filter: { _id: { $type: typeClass } }, projection: { _id: 1 }, limit: 1, singleBatch: true, readConcern: READ_CONCERN, ...sameCollection(collection.uuid) },
    { readPreference: ReadPreference.primary },
  );
  return (reply.cursor as { firstBatch: unknown[] }).firstBatch.length > 0;
}

/** Split points (as key bytes, see rawIdKey) from a random sample of _ids, sorted by the server (BSON order), evenly picked. */
async function sampleSplitPoints(source: MongoClient, collection: SourceCollection, typeClass: string, splitCount: number): Promise<Buffer[]> {
  const sampleSize = Math.min(10_000, (splitCount + 1) * 20);
  const pipeline = [{ $sample: { size: sampleSize } }, { $match: { _id: { $type: typeClass } } }, { $project: { _id: 1 } }, { $sort: { _id: 1 } }];
  const cursor = new RawBatchCursor(source, {
    db: collection.db,
    open: { aggregate: collection.coll, pipeline, cursor: { batchSize: 1000 }, allowDiskUse: true, readConcern: READ_CONCERN, ...sameCollection(collection.uuid) },
    collection: collection.coll,
    batchSize: 1000,
  });
  const sampled = (await cursor.toArray()).map((raw) => Buffer.from(rawIdKey(raw)!));
  const step = sampled.length / (splitCount + 1);
  const points: Buffer[] = [];
  for (let i = 1; i <= splitCount; i++) {
    const candidate = sampled[Math.floor(i * step)];
    if (candidate !== undefined && !points.some((p) => p.equals(candidate))) points.push(candidate);
  }
  return points;
}

/**
 * The `_id` a partition's copy or comparison resumes after, as exactly the value saved (see decodeIdKey); undefined
 * when nothing was saved yet. Partitions saved before `lastIdKey` existed hold `lastId` (null is a real `_id`).
 */
export function resumeAfter(partition: { lastIdKey?: Buffer | Binary; lastId?: unknown }): { value: unknown } | undefined {
  if (partition.lastIdKey) return { value: decodeIdKey(bytesOf(partition.lastIdKey)) };
  return partition.lastId !== undefined ? { value: partition.lastId } : undefined;
}

/** The query that selects what remains to copy of a partition. */
export function partitionFilter(partition: PartitionDoc): Document {
  if (partition.natural) return {};
  const range: Document = { $type: partition.typeClass };
  const after = resumeAfter(partition);
  if (after) range.$gt = after.value;
  else if (partition.minKey) range.$gte = decodeIdKey(bytesOf(partition.minKey));
  else if ('min' in partition) range.$gte = partition.min;
  if (partition.maxKey) range.$lt = decodeIdKey(bytesOf(partition.maxKey));
  else if ('max' in partition) range.$lt = partition.max;
  return { _id: range };
}
