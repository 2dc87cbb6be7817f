import type { MongoClient, Timestamp } from 'mongodb';
import { bytesOf } from '../../../mongo/raw-bson.js';
import { lookupSourceDocuments, readView, type ReadView } from '../../apply/source-lookup.js';
import { failpoint } from '../../failpoints.js';
import { splitNamespace } from '../../../namespaces.js';
import type { RecheckDoc } from '../../state/types.js';
import type { RecheckQueue } from './recheck-queue.js';

export type DifferenceKind = 'content' | 'missing-document' | 'extra-document';

export interface RecheckResult {
  checked: number;
  different: { entry: RecheckDoc; kind: DifferenceKind }[];
}

/**
 * Compares each queued document on both sides, byte for byte, in one `$in` read per namespace and side, and
 * records the outcome in the queue (see RecheckQueue.settle). While the sides still move a difference only backs
 * off; the caller decides what a difference means (at cutover, with the sides frozen, it is a mismatch).
 */
export async function recheckEntries(source: MongoClient, destination: MongoClient, queue: RecheckQueue, entries: readonly RecheckDoc[], sourceAt?: Timestamp, options: { frozen?: boolean } = {}): Promise<RecheckResult> {
  // While the tail runs, `sourceAt` is its applied position: the destination holds at least every change up to it,
  // so a document whose last event is at or before it must equal the source as of then, and any difference is
  // one. A document touched after it may still be on its way: it waits (judging it now would report a write
  // in flight as a mismatch, or drop an entry the applier has not written yet as equal). `frozen` (the final
  // check): the destination has stopped at `sourceAt`, nothing is on its way, and every entry is judged as of it.
  const later = new Set(entries.filter((e) => !options.frozen && sourceAt && e.lastEvent && e.lastEvent.greaterThan(sourceAt)));
  const groups = new Map<string, RecheckDoc[]>();
  for (const entry of entries) {
    if (later.has(entry)) continue;
    const name = `${entry.s}\u0000${entry.t}`;
    const group = groups.get(name);
    if (group) group.push(entry);
    else groups.set(name, [entry]);
  }
  const equal: RecheckDoc[] = [];
  const different: RecheckResult['different'] = [];
  // Namespaces at once: each is two indexed $in reads, and a cutover's queue spans every collection written.
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const keys = group.map((e) => bytesOf(e.key));
      // By name (no UUID): the queue names namespaces; a collection replaced under a name is reset by the feed.
      const read = async (view: ReadView, name: string): Promise<Map<string, Buffer>> => {
        const found = await lookupSourceDocuments(view, splitNamespace(name), undefined, keys);
        return found === 'moved' ? new Map() : found;
      };
      const [onSource, onDestination] = await Promise.all([read(readView(source, sourceAt), group[0]!.s), read(readView(destination), group[0]!.t)]);
      for (const entry of group) {
        const k = entry._id.k;
        const s = onSource.get(k);
        const d = onDestination.get(k);
        if (!s && !d) equal.push(entry);
        else if (s && d && s.equals(d)) equal.push(entry);
        else different.push({ entry, kind: !d ? 'missing-document' : !s ? 'extra-document' : 'content' });
      }
    }),
  );
  failpoint('verify:recheck-compared');
  await queue.settle(equal, different, [...later]);
  return { checked: entries.length, different };
}
