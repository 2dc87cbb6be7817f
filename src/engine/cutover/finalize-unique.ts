import { UUID, type Document, type MongoClient } from 'mongodb';
import { errorMessage, OperationError } from '../../errors.js';
import { idDocumentOf, orderedDocument, rawIdKey } from '../../mongo/raw-bson.js';
import { majorityDestination } from '../apply/raw-writes.js';
import { splitNamespace, type Namespace } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import { collectionUuid, lastWriteTime } from '../../mongo/introspection.js';
import type { RelaxedIndexDoc } from '../state/types.js';
import { errorCode, isTransient, SERVER_ERROR } from '../../mongo/server-errors.js';
import { RawBatchCursor } from '../copy/raw-cursor.js';
import { writeResolvingDuplicates } from '../apply/resolve-duplicates.js';
import { readView } from '../apply/source-lookup.js';
import { pausePoint } from '../failpoints.js';

const CANNOT_CONVERT = 359;
const ATTEMPTS = 6;

/**
 * Makes the relaxed unique indexes unique again while the tail still runs, so the cutover's write block covers
 * no index work: `prepareUnique` first (from then on the destination refuses new duplicates, which the applier
 * resolves from the source, see resolve-duplicates.ts), then the conversion. A conversion refused for
 * duplicates the destination still holds (documents the tail has not brought up to date yet) re-reads those
 * documents from the source, writes them as they are now, and tries again. TTLs are left for the commit
 * (a destination expiring on its own clock would differ from the source; restoring one is a cheap collMod).
 * @param sourceOf the source collection (name and UUID) of a destination namespace.
 */
export async function finalizeUniqueIndexes(source: MongoClient, destination: MongoClient, store: StateStore, sourceOf: (target: string) => { source: string; uuid?: string } | undefined, signal?: AbortSignal): Promise<number> {
  const pending = await store.relaxedIndexes.find({ migration: store.name, restored: false, 'original.unique': true, uniqueRestored: { $ne: true } }).toArray();
  for (const relaxed of pending) {
    signal?.throwIfAborted();
    const target = splitNamespace(relaxed.target);
    // Every command to the destination names its collection by UUID too: the tail applies renames beside this, and
    // by name alone a rewrite would create a new collection under the old name, or a collMod reach the collection
    // renamed into it. A mismatch (the collection moved) leaves the index to the next round, under its new name.
    const uuidHex = await collectionUuid(destination, target.db, target.coll);
    if (!uuidHex) continue;
    const uuid = new UUID(uuidHex);
    // fieldsAsRaw (a BSON option the driver passes through, undeclared for commands): the refusal's conflicting _ids
    // that are documents arrive as their bytes, since decoded into JS objects they could name other documents.
    const command = (extra: Document): Promise<Document> => destination.db(target.db).command({ collMod: target.coll, index: { name: relaxed.name, ...extra }, collectionUUID: uuid }, { fieldsAsRaw: { ids: true } } as Document);
    try {
      await command({ prepareUnique: true });
      for (let attempt = 1; ; attempt++) {
        try {
          await command({ unique: true });
          break;
        } catch (error) {
          const violations = (error as { code?: number; errorResponse?: { violations?: { ids: unknown[] }[] } });
          if (violations.code !== CANNOT_CONVERT || attempt >= ATTEMPTS) throw error;
          const from = sourceOf(relaxed.target);
          if (!from) throw error;
          const ids = (violations.errorResponse?.violations ?? []).flatMap((v) => v.ids).map((id) => (Buffer.isBuffer(id) ? orderedDocument(id) : id));
          await rewriteFromSource(source, destination, store, { ...splitNamespace(from.source), ...(from.uuid ? { uuid: from.uuid } : {}) }, { ...target, uuid }, ids);
        }
      }
    } catch (error) {
      const code = errorCode(error);
      // Collection or index dropped since, or the source collection renamed since it was listed: DDL will say what
      // follows, and the next round converts what is still relaxed.
      if (code === SERVER_ERROR.NamespaceNotFound || code === SERVER_ERROR.IndexNotFound || code === SERVER_ERROR.CollectionUUIDMismatch) continue;
      // An election or a cut connection is not a verdict on the data: the caller reconnects and converts again.
      if (isTransient(error)) throw error;
      throw new OperationError(
        `cannot make index ${relaxed.name} on ${relaxed.target} unique: ${errorMessage(error)}`,
        'the destination holds documents that violate it although the source does not: run `verify` to find them',
      );
    }
    await markUnique(store, relaxed);
  }
  return pending.length;
}

async function markUnique(store: StateStore, relaxed: RelaxedIndexDoc): Promise<void> {
  await store.relaxedIndexes.updateOne({ _id: relaxed._id }, { $set: { uniqueRestored: true } }, { writeConcern: { w: 'majority' } });
}

/** Writes the source's current state of these documents (or deletes them where the source has none). */
async function rewriteFromSource(source: MongoClient, destination: MongoClient, store: StateStore, from: Namespace & { uuid?: string }, to: Namespace & { uuid: UUID }, ids: unknown[]): Promise<void> {
  if (!ids.length) return;
  // The ids come back decoded from the error reply (numbers match across numeric types, documents are Maps in
  // stored order, see the caller). By UUID:
  // a name another collection took since the pair was listed is refused (CollectionUUIDMismatch) rather than read,
  // since its documents written here, and the destination's missing from it deleted, would be another collection's.
  const found = await RawBatchCursor.find(source, from.db, from.coll, { filter: { _id: { $in: ids } }, sort: { _id: 1 }, batchSize: ids.length + 1, ...(from.uuid ? { collectionUUID: from.uuid } : {}) }).toArray();
  const ids2 = await new RawBatchCursor(destination, {
    db: to.db,
    open: { find: to.coll, filter: { _id: { $in: ids } }, projection: { _id: 1 }, batchSize: ids.length + 1, collectionUUID: to.uuid },
    collection: to.coll,
    batchSize: ids.length + 1,
  }).toArray();
  const present = new Set(found.map((d) => idDocumentOf(rawIdKey(Buffer.from(d))!).toString('hex')));
  const writes = [
    ...found.map((d) => ({ kind: 'put' as const, key: idDocumentOf(rawIdKey(Buffer.from(d))!), doc: Buffer.from(d) })),
    ...ids2.map((d) => idDocumentOf(rawIdKey(Buffer.from(d))!)).filter((k) => !present.has(k.toString('hex'))).map((key) => ({ kind: 'del' as const, key })),
  ];
  await pausePoint('finalize-unique:rewrite');
  // States read now, later than the stream position: the read horizon covers them (see apply/read-horizon.ts).
  const afterSourceRead = async (): Promise<void> => {
    await store.raiseReadHorizon(undefined, await lastWriteTime(source, 'majority'));
  };
  await afterSourceRead();
  // prepareUnique refuses new duplicates: a current state may collide with a third document the destination still
  // holds in an older state (not among the violations), which is settled from the source like the tail's writes.
  await writeResolvingDuplicates(readView(source), majorityDestination(destination, to.uuid), () => from, to, writes, 500, afterSourceRead);
  // A write the server refused for the UUID (the collection renamed since) is thrown above with that code.
}
