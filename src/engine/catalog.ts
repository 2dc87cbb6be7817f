import type { Document, MongoClient } from 'mongodb';
import { OperationError } from '../errors.js';
import { collectionKind } from '../mongo/introspection.js';
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
  const { databases } = await source.db('admin').command({ listDatabases: 1, nameOnly: true });
  const result: SourceCollection[] = [];
  for (const { name: db } of databases as { name: string }[]) {
    if (SYSTEM_DBS.has(db)) continue;
    const infos = await source.db(db).listCollections({}, { nameOnly: false }).toArray();
    for (const info of infos as Document[]) {
      const coll = info.name as string;
      if (!filter.includes(db, coll)) continue;
      const options: Document = { ...(info.options as Document) };
      const kind = collectionKind(info.type as string, options);
      if (kind === 'timeseries') {
        throw new OperationError(`${ns(db, coll)} is a time-series collection, which this version cannot migrate faithfully`, `exclude it (namespaces.exclude: ["${ns(db, coll)}"]) and move it with mongodump/mongorestore`);
      }
      const isView = kind === 'view';
      const details = isView ? { indexes: [], stats: { count: 0, size: 0 } } : await collectionDetails(source, db, coll);
      // Dropped (or renamed away) since it was listed: the change stream tells the rest.
      if (!details) continue;
      const { indexes, stats } = details;
      const uuid = (info.info as { uuid?: { toString(encoding: 'hex'): string } } | undefined)?.uuid?.toString('hex');
      result.push({ db, coll, target: filter.target(db, coll), kind, ...(uuid ? { uuid } : {}), options, indexes, documents: stats.count, bytes: stats.size });
    }
  }
  return result.sort((a, b) => Number(a.kind === 'view') - Number(b.kind === 'view') || ns(a.db, a.coll).localeCompare(ns(b.db, b.coll)));
}

async function collectionDetails(client: MongoClient, db: string, coll: string): Promise<{ indexes: Document[]; stats: { count: number; size: number } } | undefined> {
  try {
    return { indexes: await client.db(db).collection(coll).listIndexes().toArray(), stats: await collectionStats(client, db, coll) };
  } catch (error) {
    // $collStats reports a missing collection inside a wrapped aggregation error: recognised by its message.
    if (isNamespaceNotFound(error) || /Collection \[.*\] not found/.test(String((error as Error).message))) return undefined;
    throw error;
  }
}

async function collectionStats(client: MongoClient, db: string, coll: string): Promise<{ count: number; size: number }> {
  const [stats] = await client.db(db).collection(coll).aggregate([{ $collStats: { storageStats: {} } }]).toArray();
  const storage = (stats?.storageStats ?? {}) as { count?: number; size?: number };
  return { count: Number(storage.count ?? 0), size: Number(storage.size ?? 0) };
}
