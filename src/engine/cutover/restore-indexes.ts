import type { Document, MongoClient } from 'mongodb';
import { errorMessage, OperationError } from '../../errors.js';
import { COLLECTION_TTL } from '../target-catalog.js';
import { splitNamespace } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import { errorCode } from '../../mongo/server-errors.js';

/**
 * Undoes what is left of the sync's relaxations at the commit: TTLs get their real expiry back (one collMod
 * each), and a unique index not finalized before the block (finalize-unique.ts) is converted here, counted in the
 * downtime (collMod prepareUnique, then unique: refused if duplicates exist). Each restored index is marked, so
 * a rerun after a crash skips it.
 */
export async function restoreRelaxedIndexes(destination: MongoClient, store: StateStore): Promise<number> {
  const pending = await store.relaxedIndexes.find({ migration: store.name, restored: false }).toArray();
  for (const relaxed of pending) {
    const { db, coll } = splitNamespace(relaxed.target);
    const command = (extra: Document): Promise<Document> => destination.db(db).command({ collMod: coll, ...extra });
    try {
      if (relaxed.name === COLLECTION_TTL) {
        await command({ expireAfterSeconds: relaxed.original.expireAfterSeconds });
      } else {
        // Normally made unique before the write block (finalize-unique.ts): then only the TTL is left for here.
        if (relaxed.original.unique === true && relaxed.uniqueRestored !== true) {
          await command({ index: { name: relaxed.name, prepareUnique: true } });
          await command({ index: { name: relaxed.name, unique: true } });
        }
        if (typeof relaxed.original.expireAfterSeconds === 'number') {
          await command({ index: { name: relaxed.name, expireAfterSeconds: relaxed.original.expireAfterSeconds } });
        }
      }
    } catch (error) {
      const code = errorCode(error);
      if (code === 26 || code === 27) continue; // collection or index dropped since: nothing to restore
      throw new OperationError(
        `cannot restore index ${relaxed.name} on ${relaxed.target}: ${errorMessage(error)}`,
        'the destination holds documents that violate it, so it does not match the source: run `verify` to find them',
      );
    }
    await store.relaxedIndexes.updateOne({ _id: relaxed._id }, { $set: { restored: true } }, { writeConcern: { w: 'majority' } });
  }
  return pending.length;
}
