/**
 * The included source collections and views, each paired with the destination namespace it maps to: what
 * verify, continuous verification and the cutover judge. Read from the one catalog reader (mongo/introspection).
 */
import type { MongoClient } from 'mongodb';
import type { CollectionProgress } from '../../model.js';
import { collectionKind, listCollectionInfos, listDatabaseNames, type CollectionInfo } from '../../mongo/introspection.js';
import { ns, SYSTEM_DBS, type NamespaceFilter } from '../../namespaces.js';

export interface Pair {
  /** Source namespace (db.coll). */
  source: string;
  /** Destination namespace it maps to. */
  target: string;
  kind: CollectionProgress['kind'];
  sourceInfo: CollectionInfo;
  /** The destination name a source view's `viewOn` must have become. */
  mapViewOn: (viewOn: string) => string;
}

/** Every included source collection and view with the destination namespace it maps to, sorted by source. */
export async function listPairs(source: MongoClient, filter: NamespaceFilter): Promise<Pair[]> {
  const pairs: Pair[] = [];
  for (const db of await listDatabaseNames(source)) {
    if (SYSTEM_DBS.has(db) || !filter.mayIncludeDatabase(db)) continue;
    for (const info of await listCollectionInfos(source, db)) {
      if (!filter.includes(db, info.name)) continue;
      const target = filter.target(db, info.name);
      pairs.push({
        source: ns(db, info.name),
        target: ns(target.db, target.coll),
        kind: collectionKind(info),
        sourceInfo: info,
        mapViewOn: (viewOn) => {
          // A view reads a collection of its own database by name: it follows that collection's rename when the
          // collection is migrated into the view's target database; otherwise it keeps the name.
          const renamed = filter.target(db, viewOn);
          return filter.includes(db, viewOn) && renamed.db === target.db ? renamed.coll : viewOn;
        },
      });
    }
  }
  return pairs.sort((a, b) => a.source.localeCompare(b.source));
}

/** The source namespace a destination namespace comes from (undefined: not one of the migration's). */
export function sourceOfTarget(pairs: readonly Pair[]): (target: string) => string | undefined {
  const collectionOf = sourceCollectionOfTarget(pairs);
  return (target) => collectionOf(target)?.source;
}

/** The source collection (name and UUID, as listed) a destination namespace comes from. */
export function sourceCollectionOfTarget(pairs: readonly Pair[]): (target: string) => { source: string; uuid?: string } | undefined {
  return (target) => {
    const pair = pairs.find((p) => p.target === target);
    return pair && { source: pair.source, ...(pair.sourceInfo.uuid ? { uuid: pair.sourceInfo.uuid } : {}) };
  };
}
