import type { Document, MongoClient } from 'mongodb';
import { idDocumentOf, rawIdKey } from '../../mongo/raw-bson.js';
import type { Namespace, NamespaceFilter } from '../../namespaces.js';
import { writeInOrder, type Destination, type Write } from './raw-writes.js';
import { lookupSourceDocument, type ReadView } from './source-lookup.js';

/** A write refused because another destination document holds the same unique key (see raw-writes.ts). */
export interface DuplicateKey {
  target: Namespace;
  /** The refused document's raw documentKey. */
  key: Buffer;
  keyValue?: Document;
}

const ATTEMPTS = 4;
const MAX_STEPS = 10_000;

function duplicatesOf(error: unknown): DuplicateKey[] {
  const list = (error as { duplicates?: DuplicateKey[] } | undefined)?.duplicates;
  return Array.isArray(list) ? list : [];
}

/**
 * Runs one write job of the applier; when unique indexes refuse some of its writes (they are unique again
 * before the cutover, see finalize-unique.ts), resolves each conflict from the source, which is the truth:
 * the refused document and every destination document holding the key it collided on are re-read from the
 * source and written as they are now (or deleted, when gone). The source's unique index guarantees that its
 * current documents do not collide, so the conflict was transient: a document the destination still holds in
 * an older state (see settleFromSource). The job then runs again; a statement it still refuses is one whose document was just written
 * in a newer state than that statement carries, so it is superseded (the stream brings the later events).
 */
export async function withDuplicateKeyResolution(source: ReadView, destination: Destination, sourceOf: (target: Namespace) => Namespace | undefined, job: () => Promise<unknown>): Promise<void> {
  const resolved = new Set<string>();
  const name = (d: DuplicateKey): string => `${d.target.db}.${d.target.coll}\u0000${d.key.toString('hex')}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await job();
      return;
    } catch (error) {
      const duplicates = duplicatesOf(error);
      if (Number((error as { code?: unknown }).code) !== 11000 || !duplicates.length) throw error;
      const fresh = duplicates.filter((d) => !resolved.has(name(d)));
      if (!fresh.length) return; // every refused statement is superseded by the current state written below
      if (attempt >= ATTEMPTS) throw error;
      for (const duplicate of fresh) {
        await settleFromSource(source, destination, sourceOf, duplicate.target, duplicate.key);
        resolved.add(name(duplicate));
      }
    }
  }
}

/**
 * Writes a document's current source state; when that collides with documents the destination holds in an
 * older state, those are removed and written (in their current state) after it, and so on along the chain.
 * Removing first is what makes swaps and cycles of unique values writable at all; since the source's current
 * documents never collide with each other, every document is written once and the loop ends.
 */
async function settleFromSource(source: ReadView, destination: Destination, sourceOf: (target: Namespace) => Namespace | undefined, target: Namespace, documentKey: Buffer): Promise<void> {
  const from = sourceOf(target);
  if (!from) throw new Error(`a duplicate key in ${target.db}.${target.coll} has no source collection to resolve it from`);
  const first = rawIdKey(documentKey);
  if (!first) return;
  const pending: Buffer[] = [first];
  const written = new Set<string>();
  for (let steps = 0; pending.length; steps++) {
    if (steps > MAX_STEPS) throw new Error(`duplicate keys in ${target.db}.${target.coll} did not settle after ${MAX_STEPS} writes`);
    const id = pending.shift()!;
    if (written.has(id.toString('hex'))) continue;
    const key = idDocumentOf(id);
    // By name, not UUID: the refused write was addressed to the collection this name maps to now.
    const found = await lookupSourceDocument(source, from, undefined, key);
    const write: Write = found && found !== 'moved' ? { kind: 'put', key, doc: Buffer.from(found) } : { kind: 'del', key };
    try {
      await writeInOrder(destination, target, [write], 1);
      written.add(id.toString('hex'));
    } catch (error) {
      const holders = await holdersOf(destination.client, target, id, duplicatesOf(error));
      if (Number((error as { code?: unknown }).code) !== 11000 || !holders.length) throw error;
      await writeInOrder(destination, target, holders.map((h) => ({ kind: 'del' as const, key: idDocumentOf(h) })), 100);
      pending.unshift(id);
      pending.push(...holders);
    }
  }
}

/** The _ids (raw keys) of the destination documents other than `id` that hold the keys a write collided on. */
async function holdersOf(destination: MongoClient, target: Namespace, id: Buffer, duplicates: DuplicateKey[]): Promise<Buffer[]> {
  const holders: Buffer[] = [];
  for (const d of duplicates) {
    if (!d.keyValue) continue;
    const found = (await destination.db(target.db).collection(target.coll).find(d.keyValue, { raw: true, projection: { _id: 1 } }).toArray()) as unknown as Buffer[];
    for (const holder of found) {
      const key = rawIdKey(Buffer.from(holder));
      if (key && !key.equals(id)) holders.push(key);
    }
  }
  return holders;
}

/** The source namespace a batch's events for this destination namespace came from. */
export function sourceOfTarget(events: readonly { ns: { db: string; coll?: string } }[], filter: NamespaceFilter): (target: Namespace) => Namespace | undefined {
  return (target) => {
    const event = events.find((e) => {
      if (!e.ns.coll) return false;
      const t = filter.target(e.ns.db, e.ns.coll);
      return t.db === target.db && t.coll === target.coll;
    });
    return event ? { db: event.ns.db, coll: event.ns.coll! } : undefined;
  };
}
