import type { Timestamp } from 'mongodb';
import { rawIdKey } from '../../mongo/raw-bson.js';
import type { ChangeEvent } from '../capture/change-event.js';
import { lookupSourceDocuments, type ReadView } from './source-lookup.js';

/** A document as the source holds it now, null when it holds none, 'moved' when its collection left that name. */
export type CurrentDocument = Buffer | null | 'moved';

/** The documents read for a batch's events, and the latest time any of them may be from (see read-horizon.ts). */
export interface Lookups {
  docs: Map<ChangeEvent, CurrentDocument>;
  readAt?: Timestamp;
}

/**
 * The lookups of consecutive reads as those of one batch. Each may answer only a prefix of its events; the applier
 * writes up to the first event not answered and reads the rest again, so the union is as good as one read.
 */
export function mergeLookups(all: readonly Lookups[]): Lookups {
  const out: Lookups = { docs: new Map() };
  for (const lookups of all) {
    for (const [event, doc] of lookups.docs) out.docs.set(event, doc);
    if (lookups.readAt && (!out.readAt || lookups.readAt.greaterThan(out.readAt))) out.readAt = lookups.readAt;
  }
  return out;
}

/** About this many bytes of documents per lookup query, and at most this many per batch held at once. */
const SLICE_BYTES = 4 * 1024 * 1024;
export const BATCH_BYTES = 64 * 1024 * 1024;
const MAX_SLICE = 250;

/**
 * Reads the current source document of every event `wanted` names (an update whose delta cannot be applied, an
 * event stored without its too large document), a few queries per collection instead of one lookup per event. The document found is the one with exactly the event's _id bytes: one stored since under an _id the
 * server takes as equal means the event's own document was deleted, and that delete is still to come in the
 * stream, so "none" is the truth the applier must keep open until then.
 *
 * Memory stays bounded whatever the documents' size: queries are sized by the documents seen so far, and once a
 * batch's documents pass BATCH_BYTES no further query starts. The events answered are then a prefix of the
 * events asked about (in stream order): the caller writes that prefix and asks again for the rest.
 */
export class CurrentDocuments {
  /**
   * Bytes per document to expect: a cautious guess at first (the first queries are then small), then the mean
   * of the last query, never falling faster than by half per query, so a few small documents do not make the
   * next query ask for hundreds of large ones.
   */
  private perDocument = 1024 * 1024;

  constructor(
    private readonly source: ReadView,
    private readonly concurrency: number,
  ) {}

  /** `budget`: the bytes of documents past which no further query starts (BATCH_BYTES, or a share of it). */
  async read(wanted: readonly ChangeEvent[], budget = BATCH_BYTES): Promise<Lookups> {
    const out: Lookups = { docs: new Map() };
    let next = 0;
    let held = 0;
    let failure: unknown;
    // Each query is sized when it is taken, from what the queries answered so far measured: sized once per
    // batch, a whole first batch (and the one read ahead beside it) went out 4 keys at a time on the first guess
    // (bench/: 250 queries and ~4 s for the first 1000 updates, against 0.2-0.7 s once measured).
    const worker = async (): Promise<void> => {
      while (next < wanted.length && failure === undefined) {
        // Slices are taken in order and `held` only grows: once the budget stops one, it stops every later one,
        // so the events answered are a prefix. A query in flight counts with the size expected of it, so the
        // queries running at once respect the budget too.
        if (held >= budget && next > 0) return;
        const size = Math.max(1, Math.min(MAX_SLICE, Math.floor(SLICE_BYTES / this.perDocument)));
        const slice = wanted.slice(next, next + size);
        next += slice.length;
        const expected = slice.length * this.perDocument;
        held += expected;
        try {
          held += (await this.readSlice(slice, out)) - expected;
        } catch (error) {
          failure ??= error;
        }
      }
    };
    // The first failure is thrown once the other queries have ended (none is left running behind the caller).
    await Promise.all(Array.from({ length: Math.min(this.concurrency, wanted.length) }, worker));
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Looks up one slice of events (several collections at most), returns the bytes it holds. */
  private async readSlice(slice: ChangeEvent[], out: Lookups): Promise<number> {
    const groups = new Map<string, ChangeEvent[]>();
    for (const event of slice) {
      const name = `${event.ns.db}\0${event.ns.coll ?? ''}\0${event.uuid ?? ''}`;
      const group = groups.get(name);
      if (group) group.push(event);
      else groups.set(name, [event]);
    }
    let bytes = 0;
    let docs = 0;
    for (const group of groups.values()) {
      const { ns, uuid } = group[0]!;
      // A hot document updated many times in a batch is read once.
      const keys = [...new Map(group.map((e) => [rawIdKey(e.key!)!.toString('hex'), e.key!])).values()];
      const found = await lookupSourceDocuments(this.source, { db: ns.db, coll: ns.coll! }, uuid, keys, (time) => {
        if (!out.readAt || time.greaterThan(out.readAt)) out.readAt = time;
      });
      if (found !== 'moved') {
        for (const doc of found.values()) bytes += doc.length;
        docs += found.size;
      }
      for (const event of group) out.docs.set(event, found === 'moved' ? 'moved' : (found.get(rawIdKey(event.key!)!.toString('hex')) ?? null));
    }
    if (docs) this.perDocument = Math.max(bytes / docs, this.perDocument / 2);
    return bytes;
  }
}
