/**
 * verify: compares every included source collection, view and time-series collection with its destination
 * counterpart, and reports destination collections the migration created that have no included source
 * counterpart any more (never another migration's or an application's, never the state database).
 * Plain engine code: no terminal, no GitHub.
 * Cutover calls it with `exact: true`; the verify command while the migration runs, with `exact: false`.
 */
import type { MongoClient } from 'mongodb';
import type { VerifyCollection, VerifyMismatch, VerifyReport } from '../../model.js';
import { ns, splitNamespace, STATE_DB, type NamespaceFilter } from '../../namespaces.js';
import { compareCollection, type CollectionPair, type CompareContext } from './compare-collection.js';
import type { RelaxedIndex } from './index-compare.js';
import { listCollectionInfos, type CollectionInfo } from '../../mongo/introspection.js';
import { listPairs } from './pairs.js';

export type { RelaxedIndex } from './index-compare.js';

export interface VerifyOptions {
  mode: 'count' | 'hash';
  /** True when the source no longer changes (cutover, committed): relaxed indexes then count as mismatches. */
  exact: boolean;
  /** How many `_id`s to name per kind of document mismatch and collection (default 20). */
  maxIds?: number;
  relaxedIndexes?: RelaxedIndex[];
  signal?: AbortSignal;
  /**
   * auto: server-side dbHash where both sides allow it, else client-side. client-side: never run dbHash
   * (avoids its brief database lock, or when a caller knows it is refused).
   */
  contentHash?: 'auto' | 'client-side';
  /**
   * Destination namespaces this migration created (its state's `collections`, those of mirrored DDL included).
   * Verify judges these and the targets of the included source namespaces, nothing else: other collections in
   * the same databases belong to other migrations or to applications. An owned namespace that no source
   * namespace maps onto any more (a view left after the source's dropDatabase) is an extra namespace.
   */
  owned?: readonly string[];
  /** Called after each collection (progress for long verifications). */
  onCollection?: (entry: VerifyCollection) => void;
}

export const DEFAULT_MAX_IDS = 20;

export async function verifyMigration(source: MongoClient, destination: MongoClient, filter: NamespaceFilter, options: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const ctx: CompareContext = {
    source,
    destination,
    mode: options.mode,
    exact: options.exact,
    maxIds: options.maxIds ?? DEFAULT_MAX_IDS,
    contentHash: options.contentHash ?? 'auto',
    relaxed: new Set((options.relaxedIndexes ?? []).map((r) => `${r.target}\u0000${r.name}`)),
    ...(options.signal ? { signal: options.signal } : {}),
  };

  // What the source holds that the migration includes, and where each piece must be on the destination.
  const planned: Omit<CollectionPair, 'targetInfo'>[] = (await listPairs(source, filter)).map((pair) => ({ ...pair, source: splitNamespace(pair.source), target: splitNamespace(pair.target) }));

  // What the destination holds in the databases the migration writes to (or wrote to: owned leftovers).
  const owned = new Set(options.owned ?? []);
  const targetDbs = [...new Set([...planned.map((p) => p.target.db), ...[...owned].map((n) => splitNamespace(n).db)])].filter((d) => d !== STATE_DB).sort();
  const destinationInfos = new Map<string, Map<string, CollectionInfo>>();
  for (const db of targetDbs) destinationInfos.set(db, new Map((await listCollectionInfos(destination, db)).map((i) => [i.name, i])));

  const collections: VerifyCollection[] = [];
  const mismatches: VerifyMismatch[] = [];
  const notes: string[] = [];
  for (const p of planned) {
    const pair: CollectionPair = { ...p, targetInfo: destinationInfos.get(p.target.db)?.get(p.target.coll) };
    const result = await compareCollection(ctx, pair);
    collections.push(result.entry);
    mismatches.push(...result.mismatches);
    notes.push(...result.notes);
    options.onCollection?.(result.entry);
  }

  const expected = new Set(planned.map((p) => ns(p.target.db, p.target.coll)));
  let others = 0;
  for (const [db, infos] of destinationInfos) {
    for (const info of infos.values()) {
      // system.* (views catalog, time-series buckets, profile) belong to the server, not to the data.
      if (info.name.startsWith('system.') || expected.has(ns(db, info.name))) continue;
      if (!owned.has(ns(db, info.name))) {
        others++;
        continue;
      }
      mismatches.push({
        namespace: ns(db, info.name),
        kind: 'extra-collection',
        detail: `${info.type === 'collection' ? 'collection' : info.type} ${ns(db, info.name)} exists on the destination but no included source collection maps to it`,
      });
    }
  }
  if (others) notes.push(`${others} other namespace${others === 1 ? '' : 's'} in the target databases ${others === 1 ? 'is' : 'are'} not this migration's (another migration's or an application's) and ${others === 1 ? 'was' : 'were'} not judged`);

  return { mode: options.mode, exact: options.exact, collections, mismatches, ...(notes.length ? { notes } : {}), durationMs: Date.now() - started };
}
