/**
 * Names the `_id`s of documents that differ between a source and a destination collection, with bounded memory.
 *
 * Why not a sorted merge: merging two `_id`-sorted streams needs a client-side copy of MongoDB's ordering of
 * BSON values across types (int32 vs double vs decimal128, strings under a collection's collation, ...), and a
 * single misordered pair would report phantom differences. Instead, the server decides every equality itself:
 *
 *  1. Forward pass: read the source in `_id` order as raw BSON, in batches. For each batch, fetch the
 *     destination documents with `{_id: {$in: [...]}}` (the `_id`s decoded with their BSON types kept).
 *     `$in` matches with the same equality as the unique `_id` index (numbers across types, the collection's
 *     collation), so at most one destination document can correspond to each source document. Pair them by
 *     the `_id` bytes (type byte + value); a pair whose whole documents differ in any byte is a *content*
 *     difference (so an int32 that became a double is caught). A source document left without a byte-equal
 *     partner either has a partner whose `_id` differs only in type/collation (a `findOne` on that `_id` finds
 *     it: content) or has none (*missing*).
 *  2. Reverse pass: read only the destination's `_id`s, look them up in the source the same way; those with
 *     no counterpart at all are *extra*.
 * Memory: one batch of each side. Cost: one read of each collection plus indexed lookups; it runs only when a
 * count or a hash already said the collection differs, and stops once `maxIds` of each kind are found.
 */
import type { Collection, Document } from 'mongodb';
import { formatId, rawId, type RawId } from '../../mongo/raw-bson.js';
import { RawBatchCursor } from '../copy/raw-cursor.js';
import type { CollectionOnSide } from './content-hash.js';

export interface Differences {
  missing: string[];
  extra: string[];
  content: string[];
  /** True when a pass stopped at maxIds: there may be more of that kind. */
  truncated: { missing: boolean; extra: boolean; content: boolean };
}

export interface FindDifferencesOptions {
  maxIds: number;
  signal?: AbortSignal;
  /** Documents per lookup batch. */
  batchSize?: number;
  /** Bytes of source documents held per batch. */
  batchBytes?: number;
  /**
   * Whether changed documents are sought (a hash differed). When only counts differed, the forward pass stops
   * once it has named maxIds missing documents instead of reading on in search of changed ones.
   */
  seekContent?: boolean;
}

interface SourceDoc {
  id: RawId;
  bytes: Buffer;
}

export async function findDifferences(source: CollectionOnSide, destination: CollectionOnSide, options: FindDifferencesOptions): Promise<Differences> {
  const result: Differences = { missing: [], extra: [], content: [], truncated: { missing: false, extra: false, content: false } };
  await forwardPass(source, destination, options, result);
  await reversePass(source, destination, options, result);
  return result;
}

const RAW = { raw: true } as const;

/** Documents whose `_id` equals (server semantics) one of `ids`, as raw bytes keyed by the `_id` bytes. */
async function lookup(collection: Collection, ids: unknown[], projection?: Document): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const filter: Document = { _id: { $in: ids } }; // ids of any BSON type: the driver's typing assumes ObjectIds
  const docs = await collection.find(filter, { ...RAW, ...(projection ? { projection } : {}), batchSize: ids.length + 1 }).toArray();
  for (const d of docs) {
    const raw = d as unknown as Buffer;
    const id = rawId(raw);
    if (id) found.set(id.key.toString('hex'), raw);
  }
  return found;
}

/** Whether any document in `collection` has an `_id` equal to `value` under the server's own equality. */
async function existsById(collection: Collection, value: unknown): Promise<boolean> {
  return (await collection.countDocuments({ _id: value } as Document, { limit: 1 })) > 0;
}

/** The reply a scan of either pass aims at (raw-cursor.ts readSize): the driver's cursor asked 500 documents a reply. */
const SCAN_REPLY_BYTES = 4 * 1024 * 1024;

/** A side's documents (or only their `_id`s) in `_id` order, a few MB a reply, as raw BSON. */
function scan(side: CollectionOnSide, batchSize: number, projection?: Document): RawBatchCursor {
  return RawBatchCursor.find(side.client, side.db, side.coll, { filter: {}, sort: { _id: 1 }, batchSize: Math.max(batchSize, 1000), replyBytes: SCAN_REPLY_BYTES, ...(projection ? { projection } : {}) });
}

const collectionOf = (side: CollectionOnSide): Collection => side.client.db(side.db).collection(side.coll);

async function forwardPass(sourceSide: CollectionOnSide, destinationSide: CollectionOnSide, options: FindDifferencesOptions, result: Differences): Promise<void> {
  const destination = collectionOf(destinationSide);
  const batchSize = options.batchSize ?? 500;
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  const seekContent = options.seekContent ?? true;
  const full = (): boolean => result.missing.length >= options.maxIds && (!seekContent || result.content.length >= options.maxIds);
  const record = (kind: 'missing' | 'content', id: RawId): void => {
    if (result[kind].length < options.maxIds) result[kind].push(formatId(id.value));
    else result.truncated[kind] = true;
  };

  const flush = async (batch: SourceDoc[]): Promise<void> => {
    options.signal?.throwIfAborted();
    const found = await lookup(destination, batch.map((d) => d.id.value));
    const unpaired: SourceDoc[] = [];
    for (const doc of batch) {
      const partner = found.get(doc.id.key.toString('hex'));
      if (!partner) unpaired.push(doc);
      else if (!partner.equals(doc.bytes)) record('content', doc.id);
    }
    // $in returned more documents than it paired: some partners differ in their _id's type or collation.
    const strayPartners = found.size - (batch.length - unpaired.length) > 0;
    for (const doc of unpaired) {
      if (strayPartners && (await existsById(destination, doc.id.value))) record('content', doc.id);
      else record('missing', doc.id);
    }
  };

  const cursor = scan(sourceSide, batchSize);
  try {
    let batch: SourceDoc[] = [];
    let bytes = 0;
    for (let docs = await cursor.next(); docs; docs = await cursor.next()) {
      for (const d of docs) {
        // Copied out of the reply: the batch outlives the cursor's current reply.
        const raw = Buffer.from(d);
        const id = rawId(raw);
        if (!id) continue; // every stored document has an _id; a view-like oddity would not
        batch.push({ id, bytes: raw });
        bytes += raw.length;
        if (batch.length >= batchSize || bytes >= batchBytes) {
          await flush(batch);
          batch = [];
          bytes = 0;
          if (full()) {
            // Stopped early: there may be more of the kinds sought.
            result.truncated.missing = true;
            if (seekContent) result.truncated.content = true;
            return;
          }
        }
      }
    }
    if (batch.length) await flush(batch);
  } finally {
    await cursor.close().catch(() => undefined);
  }
}

async function reversePass(sourceSide: CollectionOnSide, destinationSide: CollectionOnSide, options: FindDifferencesOptions, result: Differences): Promise<void> {
  const source = collectionOf(sourceSide);
  const batchSize = options.batchSize ?? 500;
  const onlyId = { _id: 1 };
  const flush = async (ids: RawId[]): Promise<boolean> => {
    options.signal?.throwIfAborted();
    const found = await lookup(source, ids.map((i) => i.value), onlyId);
    const unpaired = ids.filter((i) => !found.has(i.key.toString('hex')));
    const strayPartners = found.size - (ids.length - unpaired.length) > 0;
    for (const id of unpaired) {
      // A partner whose _id differs only in type was already reported as content by the forward pass.
      if (strayPartners && (await existsById(source, id.value))) continue;
      if (result.extra.length < options.maxIds) result.extra.push(formatId(id.value));
      else {
        result.truncated.extra = true;
        return true;
      }
    }
    return false;
  };

  const cursor = scan(destinationSide, batchSize, onlyId);
  try {
    let batch: RawId[] = [];
    for (let docs = await cursor.next(); docs; docs = await cursor.next()) {
      for (const d of docs) {
        const id = rawId(Buffer.from(d));
        if (!id) continue;
        batch.push(id);
        if (batch.length >= batchSize) {
          if (await flush(batch)) return;
          batch = [];
        }
      }
    }
    if (batch.length) await flush(batch);
  } finally {
    await cursor.close().catch(() => undefined);
  }
}
