import type { Document, MongoClient } from 'mongodb';
import { idDocumentOf, orderedDocument, rawIdKey } from '../../mongo/raw-bson.js';
import type { Namespace, NamespaceFilter } from '../namespaces.js';
import { writeInOrder, type Write } from './raw-writes.js';

/** A write refused because another destination document holds the same unique key (see raw-writes.ts). */
export interface DuplicateKey {
  target: Namespace;
  /** The refused document's raw documentKey. */
  key: Buffer;
  keyValue?: Document;
}

const ATTEMPTS = 4;

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
 * an older state. The job then runs again; a statement it still refuses is one whose document was just written
 * in a newer state than that statement carries, so it is superseded (the stream brings the later events).
 */
export async function withDuplicateKeyResolution(source: MongoClient, destination: MongoClient, sourceOf: (target: Namespace) => Namespace | undefined, job: () => Promise<unknown>, depth = 0): Promise<void> {
  const resolved = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    try {
      await job();
      return;
    } catch (error) {
      const duplicates = duplicatesOf(error);
      const code = Number((error as { code?: unknown }).code);
      if (code !== 11000 || !duplicates.length) throw error;
      const fresh = duplicates.filter((d) => !resolved.has(`${d.target.db}.${d.target.coll}\u0000${d.key.toString('hex')}`));
      if (!fresh.length) return; // every refused statement is superseded by the current state written below
      if (attempt >= ATTEMPTS) throw error;
      for (const duplicate of fresh) {
        await resolveOne(source, destination, sourceOf, duplicate, depth);
        resolved.add(`${duplicate.target.db}.${duplicate.target.coll}\u0000${duplicate.key.toString('hex')}`);
      }
    }
  }
}

async function resolveOne(source: MongoClient, destination: MongoClient, sourceOf: (target: Namespace) => Namespace | undefined, duplicate: DuplicateKey, depth: number): Promise<void> {
  const from = sourceOf(duplicate.target);
  if (!from) throw new Error(`a duplicate key in ${duplicate.target.db}.${duplicate.target.coll} has no source collection to resolve it from`);
  const targetColl = destination.db(duplicate.target.db).collection(duplicate.target.coll);
  const keys: Buffer[] = [duplicate.key];
  if (duplicate.keyValue) {
    for (const holder of (await targetColl.find(duplicate.keyValue, { raw: true, projection: { _id: 1 } }).toArray()) as unknown as Buffer[]) keys.push(Buffer.from(holder));
  }
  for (const key of keys) {
    if (!rawIdKey(key)) continue;
    const filter = orderedDocument(key);
    const current = (await source.db(from.db).collection(from.coll).find(Object.fromEntries(filter), { raw: true, limit: 1 }).toArray()) as unknown as Buffer[];
    const write: Write = current[0] ? { kind: 'put', key: idDocumentOf(rawIdKey(key)!), doc: Buffer.from(current[0]) } : { kind: 'del', key: idDocumentOf(rawIdKey(key)!) };
    // A current state can itself collide with a document the destination holds in an older state: resolved the
    // same way, a bounded number of levels deep (the source's current documents never collide with each other).
    const put = (): Promise<void> => writeInOrder(destination, duplicate.target, [write], 1);
    if (depth >= ATTEMPTS) await put();
    else await withDuplicateKeyResolution(source, destination, sourceOf, put, depth + 1);
  }
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
