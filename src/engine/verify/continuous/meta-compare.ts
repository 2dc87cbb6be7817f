/**
 * The cheap part of a verification, run every round during tail and once more inside the cutover: which
 * collections exist, their options, their indexes (and, with the sides frozen, their counts). It reads only
 * catalogs and metadata counts, so its cost does not grow with the data.
 */
import type { MongoClient } from 'mongodb';
import type { VerifyMismatch } from '../../../model.js';
import { listCollectionInfos, listIndexSpecs, type CollectionInfo } from '../../../mongo/introspection.js';
import { ns, splitNamespace, STATE_DB } from '../../../namespaces.js';
import type { StateStore } from '../../state/store.js';
import { COLLECTION_TTL } from '../../target-catalog.js';
import { compareIndexes } from '../index-compare.js';
import { compareOptions } from '../options-compare.js';
import type { Pair } from '../pairs.js';

export interface MetaOptions {
  /** Compare metadata counts too (only meaningful once the sides are frozen). */
  counts: boolean;
  /** Destination namespaces this migration created: one with no source counterpart is an extra collection. */
  owned: readonly string[];
}

export interface MetaResult {
  mismatches: VerifyMismatch[];
  counts: Map<string, { source: number; target: number }>;
  notes: string[];
}

/**
 * Compares collections, options and indexes of every pair. An index or a clustered collection's TTL the
 * migration still holds relaxed (TTLs until the commit, unique indexes until they are finalized) is no mismatch.
 */
export async function compareMetadata(source: MongoClient, destination: MongoClient, store: StateStore, pairs: readonly Pair[], options: MetaOptions): Promise<MetaResult> {
  const relaxed = await store.relaxedIndexes.find({ migration: store.name, restored: false }).toArray();
  const relaxedBy = (target: string): Set<string> => new Set(relaxed.filter((r) => r.target === target).map((r) => r.name));
  const mismatches: VerifyMismatch[] = [];
  const notes: string[] = [];
  const counts = new Map<string, { source: number; target: number }>();
  const targetDbs = [...new Set([...pairs.map((p) => splitNamespace(p.target).db), ...options.owned.map((o) => splitNamespace(o).db)])].filter((d) => d !== STATE_DB);
  const destinationInfos = new Map<string, CollectionInfo>();
  for (const db of targetDbs) for (const info of await listCollectionInfos(destination, db)) destinationInfos.set(ns(db, info.name), info);

  for (const pair of pairs) {
    const mismatch = (kind: VerifyMismatch['kind'], detail: string): void => {
      mismatches.push({ namespace: pair.source, ...(pair.target !== pair.source ? { target: pair.target } : {}), kind, detail });
    };
    const targetInfo = destinationInfos.get(pair.target);
    if (!targetInfo) {
      mismatch('missing-collection', `${pair.kind} ${pair.target} does not exist on the destination`);
      continue;
    }
    const names = relaxedBy(pair.target);
    for (const d of compareOptions(pair.sourceInfo, targetInfo, pair.mapViewOn)) {
      if (d.option === 'expireAfterSeconds' && names.has(COLLECTION_TTL)) continue;
      mismatch('options', `option ${d.option} differs: source ${d.source}, destination ${d.destination}`);
    }
    if (pair.kind === 'view' || targetInfo.type !== pair.sourceInfo.type) continue;
    const s = splitNamespace(pair.source);
    const t = splitNamespace(pair.target);
    const [sourceIndexes, targetIndexes] = await Promise.all([listIndexSpecs(source, s.db, s.coll), listIndexSpecs(destination, t.db, t.coll)]);
    for (const d of compareIndexes(sourceIndexes, targetIndexes, names)) {
      if (d.kind === 'relaxed') notes.push(`${pair.target}: ${d.detail}`);
      else mismatch('index', d.detail);
    }
    if (options.counts) {
      // Metadata counts: constant time per collection (a counting scan would put the data size back in the window).
      const [sc, tc] = await Promise.all([source.db(s.db).collection(s.coll).estimatedDocumentCount(), destination.db(t.db).collection(t.coll).estimatedDocumentCount()]);
      counts.set(pair.source, { source: sc, target: tc });
      if (sc !== tc) mismatch('count', `source has ${sc} documents, destination ${tc}`);
    }
  }

  const expected = new Set(pairs.map((p) => p.target));
  const owned = new Set(options.owned);
  for (const [name, info] of destinationInfos) {
    if (info.name.startsWith('system.') || expected.has(name) || !owned.has(name)) continue;
    mismatches.push({ namespace: name, kind: 'extra-collection', detail: `${info.type} ${name} exists on the destination but no included source collection maps to it` });
  }
  return { mismatches, counts, notes };
}
