/**
 * Everything verify checks for one source collection and its destination counterpart: options, indexes,
 * exact counts, and (mode hash) an order-independent content hash; when counts or hashes differ, the `_id`s
 * of the differing documents. Each kind of collection gets what applies to it, and `method` says what that was.
 */
import type { MongoClient } from 'mongodb';
import type { CollectionProgress, VerifyCollection, VerifyMismatch } from '../../model.js';
import { ns, type Namespace } from '../../namespaces.js';
import { clientSideHash, serverSideHash, type CollectionOnSide } from './content-hash.js';
import { findDifferences, type Differences } from './find-differences.js';
import { fieldOrderFreeBytes } from '../../mongo/raw-bson.js';
import { compareIndexes } from './index-compare.js';
import { listIndexSpecs, type CollectionInfo } from '../../mongo/introspection.js';
import { compareOptions } from './options-compare.js';

export type CollectionKind = CollectionProgress['kind'];

export interface CollectionPair {
  source: Namespace;
  target: Namespace;
  kind: CollectionKind;
  sourceInfo: CollectionInfo;
  /** Undefined when the destination has no collection of that name. */
  targetInfo: CollectionInfo | undefined;
  /** The destination name a source view's `viewOn` must have become. */
  mapViewOn: (viewOn: string) => string;
}

export interface CompareContext {
  source: MongoClient;
  destination: MongoClient;
  mode: 'count' | 'hash';
  exact: boolean;
  maxIds: number;
  contentHash: 'auto' | 'client-side';
  /** Index names (by destination namespace) the engine relaxed during sync. */
  relaxed: ReadonlySet<string>;
  signal?: AbortSignal;
}

export interface CollectionResult {
  entry: VerifyCollection;
  mismatches: VerifyMismatch[];
  notes: string[];
}

export async function compareCollection(ctx: CompareContext, pair: CollectionPair): Promise<CollectionResult> {
  ctx.signal?.throwIfAborted();
  const sourceNs = ns(pair.source.db, pair.source.coll);
  const targetNs = ns(pair.target.db, pair.target.coll);
  const mismatches: VerifyMismatch[] = [];
  const notes: string[] = [];
  const mismatch = (kind: VerifyMismatch['kind'], detail: string, ids?: string[]): void => {
    mismatches.push({ namespace: sourceNs, ...(targetNs !== sourceNs ? { target: targetNs } : {}), kind, detail, ...(ids ? { ids } : {}) });
  };
  const onSource: CollectionOnSide = { client: ctx.source, db: pair.source.db, coll: pair.source.coll };
  const onDestination: CollectionOnSide = { client: ctx.destination, db: pair.target.db, coll: pair.target.coll };
  const sourceColl = ctx.source.db(pair.source.db).collection(pair.source.coll);
  const targetColl = ctx.destination.db(pair.target.db).collection(pair.target.coll);
  const entry: VerifyCollection = { source: sourceNs, target: targetNs, sourceCount: 0, targetCount: 0, method: '', equal: false, kind: pair.kind };
  const isView = pair.kind === 'view';

  if (!pair.targetInfo) {
    if (!isView) entry.sourceCount = await sourceColl.countDocuments({});
    entry.method = 'none: missing on the destination';
    mismatch('missing-collection', `${pair.kind === 'collection' ? 'collection' : pair.kind} ${targetNs} does not exist on the destination`);
    return { entry, mismatches, notes };
  }

  for (const d of compareOptions(pair.sourceInfo, pair.targetInfo, pair.mapViewOn)) {
    mismatch('options', `option ${d.option} differs: source ${d.source}, destination ${d.destination}`);
  }
  if (isView || pair.targetInfo.type !== pair.sourceInfo.type) {
    // A view holds no data: its definition (viewOn, pipeline, collation) is what the options comparison checked.
    // A type change (view vs collection) was reported above; comparing data across it would say nothing more.
    entry.method = isView ? 'view-definition' : 'options (type differs)';
    entry.equal = mismatches.length === 0;
    return { entry, mismatches, notes };
  }

  const [sourceIndexes, targetIndexes] = await Promise.all([listIndexSpecs(ctx.source, pair.source.db, pair.source.coll), listIndexSpecs(ctx.destination, pair.target.db, pair.target.coll)]);
  const relaxedHere = new Set([...ctx.relaxed].filter((r) => r.startsWith(`${targetNs}\u0000`)).map((r) => r.slice(targetNs.length + 1)));
  for (const d of compareIndexes(sourceIndexes, targetIndexes, relaxedHere)) {
    if (d.kind === 'relaxed' && !ctx.exact) notes.push(`${targetNs}: ${d.detail}`);
    else mismatch('index', d.kind === 'relaxed' ? `${d.detail}, but the verification must be exact` : d.detail);
  }

  const [sourceCount, targetCount] = await Promise.all([sourceColl.countDocuments({}), targetColl.countDocuments({})]);
  entry.sourceCount = sourceCount;
  entry.targetCount = targetCount;
  const countsDiffer = sourceCount !== targetCount;
  if (countsDiffer) mismatch('count', `source has ${sourceCount} documents, destination ${targetCount}`);

  if (pair.kind === 'timeseries') {
    // Measurements live in buckets whose layout depends on insertion order and timing: dbHash (of the buckets)
    // cannot compare two copies, and the measurements read back through the collection are re-assembled from
    // buckets with their fields in bucket order. So each measurement is hashed with its top-level fields in
    // name order (types and values byte for byte). Differing measurements are not named: they have no
    // indexed _id to look them up by.
    if (ctx.mode === 'count') entry.method = 'count (time-series)';
    else {
      const [s, t] = await Promise.all([
        clientSideHash(onSource, { ...signalOf(ctx), normalise: fieldOrderFreeBytes }),
        clientSideHash(onDestination, { ...signalOf(ctx), normalise: fieldOrderFreeBytes }),
      ]);
      entry.method = 'count+client-hash (time-series measurements, fields in name order)';
      if (s.hash !== t.hash || s.count !== t.count) mismatch('content', 'the measurements differ (content hash); time-series measurements are not named by _id');
    }
    if (countsDiffer) notes.push(`${sourceNs}: the differing measurements of a time-series collection are not named (they have no indexed _id)`);
    entry.equal = mismatches.length === 0;
    return { entry, mismatches, notes };
  }

  let hashesDiffer = false;
  if (ctx.mode === 'count') {
    entry.method = 'count';
  } else {
    const hashed = await contentHashes(ctx, pair, onSource, onDestination);
    entry.method = hashed.method;
    hashesDiffer = hashed.source !== hashed.target;
  }

  if (countsDiffer || hashesDiffer) {
    const found = await findDifferences(onSource, onDestination, { maxIds: ctx.maxIds, seekContent: hashesDiffer, ...signalOf(ctx) });
    reportDifferences(found, mismatch, hashesDiffer, entry.method);
  }
  entry.equal = mismatches.length === 0;
  return { entry, mismatches, notes };
}

interface Hashes {
  source: string;
  target: string;
  method: string;
}

/** dbHash on both sides when both allow it (the two md5s are comparable only with each other), else client-side. */
async function contentHashes(ctx: CompareContext, pair: CollectionPair, onSource: CollectionOnSide, onDestination: CollectionOnSide): Promise<Hashes> {
  let why = 'client-side hash requested';
  if (ctx.contentHash === 'auto') {
    const [s, t] = await Promise.all([
      serverSideHash(ctx.source.db(pair.source.db), pair.source.coll),
      serverSideHash(ctx.destination.db(pair.target.db), pair.target.coll),
    ]);
    if (s.ok && t.ok) return { source: s.hash, target: t.hash, method: 'count+dbHash' };
    why = `dbHash refused: ${[!s.ok ? `source: ${s.reason}` : '', !t.ok ? `destination: ${t.reason}` : ''].filter(Boolean).join('; ')}`;
  }
  const [sc, tc] = await Promise.all([clientSideHash(onSource, signalOf(ctx)), clientSideHash(onDestination, signalOf(ctx))]);
  return { source: `${sc.hash}/${sc.count ?? 0}`, target: `${tc.hash}/${tc.count ?? 0}`, method: `count+client-hash (${why})` };
}

function reportDifferences(
  found: Differences,
  mismatch: (kind: VerifyMismatch['kind'], detail: string, ids?: string[]) => void,
  hashesDiffer: boolean,
  method: string,
): void {
  const line = (n: number, what: string, truncated: boolean): string =>
    `${n} document${n === 1 ? '' : 's'} ${what}${truncated ? ` (the first ${n} shown; there may be more)` : ''}`;
  if (found.content.length) mismatch('content', line(found.content.length, 'with different content (bytes or BSON types)', found.truncated.content), found.content);
  if (found.missing.length) mismatch('missing-document', line(found.missing.length, 'missing on the destination', found.truncated.missing), found.missing);
  if (found.extra.length) mismatch('extra-document', line(found.extra.length, 'only on the destination', found.truncated.extra), found.extra);
  if (hashesDiffer && !found.content.length && !found.missing.length && !found.extra.length) {
    mismatch('content', `content hashes differ (${method}) but a document-by-document pass found no difference: the collection changed in between`);
  }
}

function signalOf(ctx: CompareContext): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}
