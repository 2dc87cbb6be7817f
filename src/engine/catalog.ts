import type { Document, MongoClient } from 'mongodb';
import { errorMessage, OperationError } from '../errors.js';
import { collectionKind, collectionSizes, listCollectionInfos, listDatabaseNames, listIndexSpecs } from '../mongo/introspection.js';
import { isCatalogRace, isNamespaceNotFound } from '../mongo/server-errors.js';
import type { CollectionProgress } from '../model.js';
import { ns, SYSTEM_DBS, type NamespaceFilter } from '../namespaces.js';
import { pausePoint } from './failpoints.js';

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
    result.push(...(await readDatabase(source, filter, db)));
  }
  return result.sort((a, b) => Number(a.kind === 'view') - Number(b.kind === 'view') || ns(a.db, a.coll).localeCompare(ns(b.db, b.coll)));
}

/** Listings of one database read again when a collection moved under the reading of its details. */
const DATABASE_READS = 5;

/**
 * One database's included collections, each with its details read by UUID as listed. A collection renamed or
 * dropped between the listing and its details is not left out: the whole database is listed again, since one
 * renamed is still there under another name, and a catalog without it would have the copy take it for gone.
 */
async function readDatabase(source: MongoClient, filter: NamespaceFilter, db: string): Promise<SourceCollection[]> {
  for (let attempt = 1; ; attempt++) {
    const collections: SourceCollection[] = [];
    let moved: string | undefined;
    for (const info of await listCollectionInfos(source, db)) {
      const coll = info.name;
      if (!filter.includes(db, coll)) continue;
      const kind = collectionKind(info);
      if (kind === 'timeseries') {
        throw new OperationError(`${ns(db, coll)} is a time-series collection, which this version cannot migrate faithfully`, `exclude it (namespaces.exclude: ["${ns(db, coll)}"]) and move it with mongodump/mongorestore`);
      }
      await pausePoint('catalog:details');
      const details = kind === 'view' ? { indexes: [], documents: 0, bytes: 0 } : await collectionDetails(source, db, coll, info.uuid);
      if (!details) {
        moved = ns(db, coll);
        break;
      }
      collections.push({ db, coll, target: filter.target(db, coll), kind, ...(info.uuid ? { uuid: info.uuid } : {}), options: info.options, ...details });
    }
    if (!moved) return collections;
    if (attempt >= DATABASE_READS) {
      throw new OperationError(
        `collections of database ${db} kept being renamed or dropped on the source while they were listed (${DATABASE_READS} attempts; last: ${moved})`,
        'run the command again once the renames settle; nothing was copied from this listing',
      );
    }
  }
}

/** Sizes and indexes of the collection with this UUID; undefined when it is no longer under this name. */
async function collectionDetails(client: MongoClient, db: string, coll: string, uuid: string | undefined): Promise<Pick<SourceCollection, 'indexes' | 'documents' | 'bytes'> | undefined> {
  try {
    const sizes = await collectionSizes(client, db, coll, uuid);
    return { indexes: await listIndexSpecs(client, db, coll, uuid), documents: sizes.documents, bytes: sizes.dataBytes };
  } catch (error) {
    // $collStats reports a missing collection inside a wrapped aggregation error: recognised by its message.
    if (isCatalogRace(error) || isNamespaceNotFound(error) || /Collection \[.*\] not found/.test(String(errorMessage(error)))) return undefined;
    throw error;
  }
}
