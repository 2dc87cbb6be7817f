import type { MongoClient } from 'mongodb';
import { rawIdKey } from '../../mongo/raw-bson.js';
import type { ChangeEvent } from '../capture/change-event.js';
import { runLimited } from './run-limited.js';
import { lookupSourceDocuments } from './source-lookup.js';

const LOOKUP_SLICE = 250;

/** A document as the source holds it now, null when it holds none, 'moved' when its collection left that name. */
export type CurrentDocument = Buffer | null | 'moved';

/**
 * Reads the current source document of every event that carries none (updates: the stream does not look them
 * up; events stored without their too large document), a few queries per collection instead of one lookup per
 * event. The document found is the one with exactly the event's _id bytes: one stored since under an _id the
 * server takes as equal means the event's own document was deleted, and that delete is still to come in the
 * stream, so "none" is the truth the applier must keep open until then.
 */
export async function readCurrentDocuments(source: MongoClient, events: readonly ChangeEvent[], concurrency: number): Promise<Map<ChangeEvent, CurrentDocument>> {
  const out = new Map<ChangeEvent, CurrentDocument>();
  const groups = new Map<string, ChangeEvent[]>();
  for (const event of events) {
    const name = `${event.ns.db}\0${event.ns.coll ?? ''}\0${event.uuid ?? ''}`;
    const group = groups.get(name);
    if (group) group.push(event);
    else groups.set(name, [event]);
  }
  const jobs: (() => Promise<void>)[] = [];
  for (const group of groups.values()) {
    // Cut so that the lookups of one collection run side by side too (a batch is often one collection's).
    for (let i = 0; i < group.length; i += LOOKUP_SLICE) {
      const slice = group.slice(i, i + LOOKUP_SLICE);
      jobs.push(async () => {
        const { ns, uuid } = slice[0]!;
        // A hot document updated many times in a batch is read once.
        const keys = [...new Map(slice.map((e) => [e.key!.toString('hex'), e.key!])).values()];
        const found = await lookupSourceDocuments(source, { db: ns.db, coll: ns.coll! }, uuid, keys);
        for (const event of slice) {
          if (found === 'moved') out.set(event, 'moved');
          else out.set(event, found.get(rawIdKey(event.key!)!.toString('hex')) ?? null);
        }
      });
    }
  }
  await runLimited(jobs, concurrency);
  return out;
}
