import type { MongoClient, Timestamp } from 'mongodb';
import { bytesOf } from '../../../mongo/raw-bson.js';
import { lookupSourceDocuments, readView, type ReadView } from '../../apply/source-lookup.js';
import { failpoint } from '../../failpoints.js';
import { splitNamespace } from '../../../namespaces.js';
import type { RecheckDoc } from '../../state/types.js';
import { documentSlot, idHex, type RecheckQueue } from './recheck-queue.js';

export type DifferenceKind = 'content' | 'missing-document' | 'extra-document';

export interface RecheckResult {
  checked: number;
  different: { entry: RecheckDoc; kind: DifferenceKind }[];
}

/** Keys per read: with both sides' documents of one read held at once, memory stays bounded by this times their size. */
const KEYS_PER_READ = 500;

/** A document to compare on both sides: its source and destination namespaces and its raw documentKey. */
export interface ComparedDocument {
  source: string;
  target: string;
  key: Buffer;
}

/**
 * Compares documents on both sides, byte for byte, in one `$in` read per namespace and side (the source as of
 * `sourceAt` when given, the destination's majority-committed present). Namespaces at once: each is two indexed
 * reads, and a cutover's queue spans every collection written.
 */
export async function compareDocuments<T extends ComparedDocument>(source: MongoClient, destination: MongoClient, docs: readonly T[], sourceAt?: Timestamp): Promise<{ equal: T[]; different: { doc: T; kind: DifferenceKind }[] }> {
  const groups = new Map<string, T[]>();
  for (const doc of docs) {
    const name = `${doc.source}\u0000${doc.target}`;
    const group = groups.get(name);
    if (group) group.push(doc);
    else groups.set(name, [doc]);
  }
  const equal: T[] = [];
  const different: { doc: T; kind: DifferenceKind }[] = [];
  await Promise.all(
    [...groups.values()].map(async (all) => {
      // A slice at a time: both sides' documents of a slice are held at once, whatever their size.
      for (let from = 0; from < all.length; from += KEYS_PER_READ) {
        const group = all.slice(from, from + KEYS_PER_READ);
        const keys = group.map((d) => d.key);
        // By name (no UUID): the queue and the log name namespaces; a collection replaced under a name is reset by the feed.
        const read = async (view: ReadView, name: string): Promise<Map<string, Buffer>> => {
          const found = await lookupSourceDocuments(view, splitNamespace(name), undefined, keys);
          return found === 'moved' ? new Map() : found;
        };
        const [onSource, onDestination] = await Promise.all([read(readView(source, sourceAt), group[0]!.source), read(readView(destination), group[0]!.target)]);
        for (const doc of group) {
          const k = idHex(doc.key)!;
          const s = onSource.get(k);
          const d = onDestination.get(k);
          if (!s && !d) equal.push(doc);
          else if (s && d && s.equals(d)) equal.push(doc);
          else different.push({ doc, kind: !d ? 'missing-document' : !s ? 'extra-document' : 'content' });
        }
      }
    }),
  );
  return { equal, different };
}

/**
 * Compares each queued document on both sides (compareDocuments) and records the outcome in the queue (see
 * RecheckQueue.settle). While the sides still move a difference only backs off; the caller decides what a
 * difference means (at cutover, with the sides frozen, it is a mismatch).
 */
export async function recheckEntries(source: MongoClient, destination: MongoClient, queue: RecheckQueue, entries: readonly RecheckDoc[], sourceAt?: Timestamp, options: { frozen?: boolean; inFlux?: (applied: Timestamp) => Promise<Set<string>> } = {}): Promise<RecheckResult> {
  // While the tail runs, `sourceAt` is its applied position: the destination holds at least every change up to it,
  // so a document whose last event is at or before it must equal the source as of then, and any difference is
  // one. A document touched after it may still be on its way: it waits (judging it now would report a write
  // in flight as a mismatch, or drop an entry the applier has not written yet as equal). `frozen` (the final
  // check): the destination has stopped at `sourceAt`, nothing is on its way, and every entry is judged as of it.
  const moving = !options.frozen && sourceAt !== undefined;
  const later = new Set(entries.filter((e) => moving && e.lastEvent && e.lastEvent.greaterThan(sourceAt)));
  const judged = entries.filter((e) => !later.has(e)).map((entry) => ({ entry, source: entry.s, target: entry.t, key: bytesOf(entry.key) }));
  const found = await compareDocuments(source, destination, judged, sourceAt);
  // Touched again since (logged past the applied position, see TouchLog.inFlux): read after the comparison, so a
  // write the destination read may have seen is known; judged by its own record later.
  const inFlux = moving && options.inFlux ? await options.inFlux(sourceAt) : undefined;
  const different: RecheckResult['different'] = [];
  for (const { doc, kind } of found.different) {
    if (inFlux?.has(documentSlot(doc.target, doc.key)!)) later.add(doc.entry);
    else different.push({ entry: doc.entry, kind });
  }
  failpoint('verify:recheck-compared');
  await queue.settle(found.equal.map((d) => d.entry), different, [...later]);
  return { checked: entries.length, different };
}
