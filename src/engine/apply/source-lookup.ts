import { UUID, type MongoClient } from 'mongodb';
import { orderedDocument } from '../../mongo/raw-bson.js';
import type { Namespace } from '../namespaces.js';

/** The collection at this name is not the one with this UUID any more (renamed away, dropped, re-created). */
const UUID_MISMATCH = new Set([361, 26]);

/**
 * Reads a document's current state from the source collection with this UUID, expected under this name: its
 * raw bytes, null when the collection holds no such document, or 'moved' when the name no longer belongs to
 * that collection. The UUID is checked by the server (collectionUUID, 6.0+), so a collection that took the
 * name over is never read by mistake (without a UUID, the name alone decides).
 */
export async function lookupSourceDocument(source: MongoClient, at: Namespace, uuid: string | undefined, key: Buffer): Promise<Buffer | null | 'moved'> {
  try {
    const reply = await source.db(at.db).command(
      { find: at.coll, filter: orderedDocument(key), ...(uuid ? { collectionUUID: new UUID(uuid) } : {}), limit: 1, singleBatch: true, readConcern: { level: 'majority' } },
      // fieldsAsRaw: the document comes back as the source's bytes (see RawBatchCursor).
      { fieldsAsRaw: { firstBatch: true } } as object,
    );
    const batch = (reply.cursor as { firstBatch: Buffer[] }).firstBatch;
    return batch[0] ?? null;
  } catch (error) {
    if (UUID_MISMATCH.has(Number((error as { code?: unknown }).code))) return 'moved';
    throw error;
  }
}
