import type { Document, MongoClient } from 'mongodb';
import { errorMessage, OperationError } from '../errors.js';
import { collectionKind, collectionSizes, listCollectionInfos, listDatabaseNames, listIndexSpecs } from '../mongo/introspection.js';
import { isNamespaceNotFound } from '../mongo/server-errors.js';
import type { CollectionProgress } from '../model.js';
import { ns, SYSTEM_DBS, type NamespaceFilter } from '../namespaces.js';

/** One included source collection or view, with everything needed to recreate it. */
export interface SourceCollection {
  db: string;
  coll: string;
  target: { db: string; coll: string };
  kind: CollectionProgress['kind'];
  /** The collection's UUID (hex): it follows the collection through renames, unlike its name. */
  uuid?: string;
  /** listCollections options, as the source reports them. */
  options: Document;
  indexes: Document[];
  documents: number;
  bytes: number;
}

/** Lists every included source collection and view, in a stable order. Views last: they need their sources. */
export async function readCatalog(source: MongoClient, filter: NamespaceFilter): Promise<SourceCollection[]> {
  const result: SourceCollection[] = [];
  for (const db of await listDatabaseNames(source)) {
    if (SYSTEM_DBS.has(db) || !filter.mayIncludeDatabase(db)) continue;
    for (const info of await listCollectionInfos(source, db)) {
      const coll = info.name;
      if (!filter.includes(db, coll)) continue;
      const kind = collectionKind(info);
      if (kind === 'timeseries') {
        throw new OperationError(`${ns(db, coll)} is a time-series collection, which this version cannot migrate faithfully`, `exclude it (namespaces.exclude: ["${ns(db, coll)}"]) and move it with mongodump/mongorestore`);
      }
      const details = kind === 'view' ? { indexes: [], documents: 0, bytes: 0 } : await collectionDetails(source, db, coll);
      // Dropped (or renamed away) since it was listed: the change stream tells the rest.
      if (!details) continue;
      result.push({ db, coll, target: filter.target(db, coll), kind, ...(info.uuid ? { uuid: info.uuid } : {}), options: info.options, ...details });
    }
  }
  return result.sort((a, b) => Number(a.kind === 'view') - Number(b.kind === 'view') || ns(a.db, a.coll).localeCompare(ns(b.db, b.coll)));
}

async function collectionDetails(client: MongoClient, db: string, coll: string): Promise<Pick<SourceCollection, 'indexes' | 'documents' | 'bytes'> | undefined> {
  try {
    const sizes = await collectionSizes(client, db, coll);
    return { indexes: await listIndexSpecs(client, db, coll), documents: sizes.documents, bytes: sizes.dataBytes };
  } catch (error) {
    // $collStats reports a missing collection inside a wrapped aggregation error: recognised by its message.
    if (isNamespaceNotFound(error) || /Collection \[.*\] not found/.test(String(errorMessage(error)))) return undefined;
    throw error;
  }
}
