import { UUID, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { orderedDocument, rawIdKey } from '../../mongo/raw-bson.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode, isTransient } from '../../mongo/server-errors.js';
import { RawBatchCursor } from '../copy/raw-cursor.js';
import { shortCommandBound, withinShortBound } from '../../mongo/stall-bound.js';
import type { Namespace } from '../../namespaces.js';
import { database } from '../../mongo/databases.js';

/**
 * A cluster as a reader sees it: its majority-committed present, or its state as of a time T (snapshot reads).
 * The applier reads the source as of T when its tail stops at T (a rehearsal, whose source goes on writing): a
 * document read later than the last event applied carries writes whose events the destination never gets, which
 * is harmless while the stream goes on (those events follow) and a difference once it stops.
 */
export interface ReadView {
  client: MongoClient;
  readConcern: Document;
}

export function readView(client: MongoClient, asOf?: Timestamp): ReadView {
  return { client, readConcern: asOf ? { level: 'snapshot', atClusterTime: asOf } : { level: 'majority' } };
}

/** The collection at this name is not the one with this UUID any more (renamed away, dropped, re-created). */
const UUID_MISMATCH = new Set([361, 26]);

/**
 * Reads a document's current state from the source collection with this UUID, expected under this name: its
 * raw bytes, null when the collection holds no such document, or 'moved' when the name no longer belongs to
 * that collection. The UUID is checked by the server (collectionUUID, 6.0+), so a collection that took the
 * name over is never read by mistake (without a UUID, the name alone decides).
 */
export async function lookupSourceDocument(source: ReadView, at: Namespace, uuid: string | undefined, key: Buffer): Promise<Buffer | null | 'moved'> {
  try {
    const reply = await withinShortBound(`a find on ${at.db}.${at.coll}`, (signal) =>
      database(source.client, at.db).command(
        { find: at.coll, filter: orderedDocument(key), ...(uuid ? { collectionUUID: new UUID(uuid) } : {}), limit: 1, singleBatch: true, readConcern: source.readConcern },
        // fieldsAsRaw: the document comes back as the source's bytes (see RawBatchCursor).
        { fieldsAsRaw: { firstBatch: true }, signal } as object,
      ),
    );
    const batch = (reply.cursor as { firstBatch: Buffer[] }).firstBatch;
    return batch[0] ?? null;
  } catch (error) {
    if (UUID_MISMATCH.has(errorCode(error) ?? 0)) return 'moved';
    throw error;
  }
}

/**
 * The current state of many documents of one source collection in one query (what a change stream's
 * updateLookup does one event at a time, in its own pipeline, on the source's busiest thread). The caller
 * keeps the keys to a few hundred (see CurrentDocuments). Returns each document found by the exact bytes of
 * its `_id` (type byte and value), or 'moved' when the name no longer belongs to the collection with this
 * UUID; `readAt` hears the latest time the documents found may be from. A key whose document is missing, or stored under an _id the server takes as equal but with other
 * bytes, is absent.
 */
export async function lookupSourceDocuments(source: ReadView, at: Namespace, uuid: string | undefined, keys: Buffer[], readAt?: (time: Timestamp) => void): Promise<Map<string, Buffer> | 'moved'> {
  // A read, so asking again after a cut connection or an election is safe: a few times in place, rather than
  // failing the whole batch (and the step that runs it) for one lost reply.
  for (let attempt = 1; ; attempt++) {
    try {
      return await lookupOnce(source, at, uuid, keys, readAt);
    } catch (error) {
      if (!isTransient(error) || attempt >= LOOKUP_ATTEMPTS) throw error;
      await sleep(100 * attempt);
    }
  }
}

const LOOKUP_ATTEMPTS = 4;

async function lookupOnce(source: ReadView, at: Namespace, uuid: string | undefined, keys: Buffer[], readAt?: (time: Timestamp) => void): Promise<Map<string, Buffer> | 'moved'> {
  const found = new Map<string, Buffer>();
  const ids = keys.map((key) => orderedDocument(key).get('_id'));
  // One more than can match: a first batch filled exactly to its size leaves the cursor open (the server has not
  // looked past the last key yet), and every lookup that found all its documents cost a second round trip, an
  // empty getMore.
  const batchSize = keys.length + 1;
  const open = { find: at.coll, filter: { _id: { $in: ids } }, ...(uuid ? { collectionUUID: new UUID(uuid) } : {}), batchSize, readConcern: source.readConcern };
  const cursor = new RawBatchCursor(source.client, { db: at.db, open, collection: at.coll, batchSize, boundMs: shortCommandBound() });
  try {
    for (let batch = await cursor.next(); batch; batch = await cursor.next()) {
      for (const doc of batch) {
        const id = rawIdKey(doc);
        if (id) found.set(id.toString('hex'), doc);
      }
    }
    // The documents were read at or before the replies' cluster time (see read-horizon.ts).
    if (cursor.clusterTime) readAt?.(cursor.clusterTime);
    else if (found.size) throw new Error(`a lookup on ${at.db}.${at.coll} came back without a cluster time`);
  } catch (error) {
    if (UUID_MISMATCH.has(errorCode(error) ?? 0)) return 'moved';
    throw error;
  } finally {
    await cursor.close().catch(() => undefined);
  }
  return found;
}
