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
  const settle: (() => void)[] = [];
  for (const group of groups.values()) {
    const { ns, uuid } = group[0]!;
    // A hot document updated many times in a batch is read once.
    const keys = [...new Map(group.map((e) => [rawIdKey(e.key!)!.toString('hex'), e.key!])).entries()];
    const found = new Map<string, Buffer>();
    let moved = false;
    // Cut so that the lookups of one collection run side by side too (a batch is often one collection's).
    for (let i = 0; i < keys.length; i += LOOKUP_SLICE) {
      const slice = keys.slice(i, i + LOOKUP_SLICE).map(([, key]) => key);
      jobs.push(async () => {
        const docs = await lookupSourceDocuments(source, { db: ns.db, coll: ns.coll! }, uuid, slice);
        if (docs === 'moved') moved = true;
        else for (const [id, doc] of docs) found.set(id, doc);
      });
    }
    settle.push(() => {
      for (const event of group) out.set(event, moved ? 'moved' : (found.get(rawIdKey(event.key!)!.toString('hex')) ?? null));
    });
  }
  await runLimited(jobs, concurrency);
  for (const done of settle) done();
  return out;
}
