import type { CollationOptions, Document, MongoClient } from 'mongodb';
import { idDocumentOf, rawIdKey } from '../../mongo/raw-bson.js';
import type { Namespace, NamespaceFilter } from '../../namespaces.js';
import { writeInOrder, type Destination, type Write } from './raw-writes.js';
import { lookupSourceDocument, type ReadView } from './source-lookup.js';
import { findByUuid } from '../copy/source-location.js';
import { errorCode } from '../../mongo/server-errors.js';
import { listIndexSpecs } from '../../mongo/introspection.js';
import { canonical } from '../../mongo/canonical.js';
import { decodeOrdered, fieldsOf } from '../../mongo/ordered-decode.js';
import { EXACT_TYPES } from '../copy/raw-insert.js';

/** A write refused because another destination document holds the same unique key (see raw-writes.ts). */
export interface DuplicateKey {
  target: Namespace;
  /** The refused document's raw documentKey. */
  key: Buffer;
  keyValue?: Document;
  /** The key of the unique index that refused it (which index, and so which collation, the value is equal under). */
  keyPattern?: Document;
}

/** A safety bound only: every attempt settles at least one more of the job's documents, so the loop ends. */
const MAX_ATTEMPTS = 10_000;
const MAX_STEPS = 10_000;

function duplicatesOf(error: unknown): DuplicateKey[] {
  const list = (error as { duplicates?: DuplicateKey[] } | undefined)?.duplicates;
  return Array.isArray(list) ? list : [];
}

/** Whether a write job should leave out a document's statements: its current state was written instead. */
export type Settled = (target: Namespace, documentKey: Buffer) => boolean;

/**
 * Runs one write job of the applier; when unique indexes refuse some of its writes (they are unique again
 * before the cutover, see finalize-unique.ts), resolves each conflict from the source, which is the truth:
 * the refused document and every destination document holding the key it collided on are re-read from the
 * source and written as they are now (or deleted, when gone). The source's unique index guarantees that its
 * current documents do not collide, so the conflict was transient: a document the destination still holds in
 * an older state (see settleFromSource). The job then runs again without the statements of every document
 * settled so far: their current state supersedes them (the stream brings the later events). Leaving them out,
 * rather than letting them be refused again, is what keeps an ordered job (capped, collation, one document's
 * run) from stopping at its first refusal and never sending the statements behind it. `afterSourceRead` runs
 * after each read from the source and before its state is written.
 */
/** The source collection whose changes a destination namespace receives: its name in the batch's events, and its UUID. */
export type SourceOfTarget = (target: Namespace) => (Namespace & { uuid?: string }) | undefined;

export async function withDuplicateKeyResolution(source: ReadView, destination: Destination, sourceOf: SourceOfTarget, job: (settled: Settled) => Promise<unknown>, afterSourceRead: () => Promise<void> = async () => undefined): Promise<void> {
  const written = new Set<string>();
  const name = (target: Namespace, id: Buffer): string => `${target.db}.${target.coll}\u0000${id.toString('hex')}`;
  const settled: Settled = (target, documentKey) => {
    const id = rawIdKey(documentKey);
    return id !== undefined && written.has(name(target, id));
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await job(settled);
      return;
    } catch (error) {
      const duplicates = duplicatesOf(error);
      if (errorCode(error) !== 11000 || !duplicates.length) throw error;
      const fresh = duplicates.filter((d) => !settled(d.target, d.key));
      // Cannot happen (settled documents' statements are left out): a refusal nothing can resolve is an error.
      if (!fresh.length || attempt >= MAX_ATTEMPTS) throw error;
      for (const duplicate of fresh) {
        for (const id of await settleFromSource(source, destination, sourceOf, duplicate.target, duplicate.key, afterSourceRead)) written.add(name(duplicate.target, id));
      }
    }
  }
}

/**
 * Writes these writes to one target in order, resolving the duplicate keys they meet from the source: what the
 * applier and the unique conversion write from the source's current states, outside a batch's own write jobs.
 */
export function writeResolvingDuplicates(source: ReadView, destination: Destination, sourceOf: SourceOfTarget, target: Namespace, writes: Write[], chunk: number, afterSourceRead: () => Promise<void>): Promise<void> {
  return withDuplicateKeyResolution(source, destination, sourceOf, (settled) => writeInOrder(destination, target, writes.filter((w) => !settled(target, w.key)), chunk), afterSourceRead);
}

/**
 * Writes a document's current source state; when that collides with documents the destination holds in an
 * older state, those are removed and written (in their current state) after it, and so on along the chain.
 * Removing first is what makes swaps and cycles of unique values writable at all; since the source's current
 * documents never collide with each other, every document is written once and the loop ends. Returns the
 * _ids (raw keys) of every document it wrote.
 */
async function settleFromSource(source: ReadView, destination: Destination, sourceOf: SourceOfTarget, target: Namespace, documentKey: Buffer, afterSourceRead: () => Promise<void>): Promise<Buffer[]> {
  const from = sourceOf(target);
  if (!from) throw new Error(`a duplicate key in ${target.db}.${target.coll} has no source collection to resolve it from`);
  const first = rawIdKey(documentKey);
  if (!first) return [];
  const pending: Buffer[] = [first];
  const written = new Map<string, Buffer>();
  for (let steps = 0; pending.length; steps++) {
    if (steps > MAX_STEPS) throw new Error(`duplicate keys in ${target.db}.${target.coll} did not settle after ${MAX_STEPS} writes`);
    const id = pending.shift()!;
    if (written.has(id.toString('hex'))) continue;
    const key = idDocumentOf(id);
    const found = await currentState(source, from, key);
    const write: Write = found ? { kind: 'put', key, doc: Buffer.from(found) } : { kind: 'del', key };
    // A state read now, later than the stream position: the caller's read horizon covers it (see read-horizon.ts).
    await afterSourceRead();
    try {
      await writeInOrder(destination, target, [write], 1);
      written.set(id.toString('hex'), id);
    } catch (error) {
      if (errorCode(error) !== 11000) throw error;
      const holders = await holdersOf(destination.client, target, id, write.kind === 'put' ? write.doc : undefined, duplicatesOf(error));
      if (!holders.length) {
        // The document that held the key changed since (another write job of the batch runs beside this one):
        // written again (MAX_STEPS bounds it).
        pending.unshift(id);
        continue;
      }
      await writeInOrder(destination, target, holders.map((h) => ({ kind: 'del' as const, key: idDocumentOf(h) })), 100);
      pending.unshift(id);
      pending.push(...holders);
    }
  }
  return [...written.values()];
}

/**
 * The document's current state in the source collection the batch's events came from (by UUID): where a rename
 * since moved that collection (the destination follows when it applies the rename), it is read under its new name.
 * By name alone, a collection renamed away read as "no document" (written as a delete, and the rename then carried
 * the destination's collection over without it), and one that took the name over was read in its place. Null only
 * when the collection holds no such document, or is gone (its drop follows in the stream).
 */
async function currentState(source: ReadView, from: Namespace & { uuid?: string }, key: Buffer): Promise<Buffer | null> {
  const found = await lookupSourceDocument(source, from, from.uuid, key);
  if (found !== 'moved') return found;
  const now = from.uuid ? await findByUuid(source.client, from.uuid, from.db) : undefined;
  if (!now) return null;
  const there = await lookupSourceDocument(source, now, from.uuid, key);
  // Renamed again in between: its state is whatever the next rename's re-read finds (see Applier.afterDdl).
  return there === 'moved' ? null : there;
}

/**
 * The _ids (raw keys) of the destination documents other than `id` that hold the keys a write of `doc` collided on.
 * Found by the refusal's key value, or, under an index with a collation, by the values `doc` holds on the index's
 * fields: its key value is then the collation's sort key (bytes as a string), which no document holds. The find
 * runs under that collation, so "ab" is found holding what "AB" collided on. Finding more than the holders costs
 * only rewrites from the source; finding fewer would retry the write until it gave up.
 */
async function holdersOf(destination: MongoClient, target: Namespace, id: Buffer, doc: Buffer | undefined, duplicates: DuplicateKey[]): Promise<Buffer[]> {
  const holders: Buffer[] = [];
  const written = doc ? decodeOrdered(doc, EXACT_TYPES) : undefined;
  for (const d of duplicates) {
    for (const collation of await collationsOf(destination, target, d.keyPattern)) {
      const filter = collation ? written && d.keyPattern && holdingSameValues(written, d.keyPattern) : d.keyValue;
      if (!filter) continue;
      const found = (await destination.db(target.db).collection(target.coll).find(filter, { raw: true, projection: { _id: 1 }, ...(collation ? { collation: collation as CollationOptions } : {}) }).toArray()) as unknown as Buffer[];
      for (const holder of found) {
        const key = rawIdKey(Buffer.from(holder));
        if (key && !key.equals(id) && !holders.some((h) => h.equals(key))) holders.push(key);
      }
    }
  }
  return holders;
}

/**
 * The collations of the unique indexes on this key (undefined: none of its own). Two unique indexes may share a key
 * under different collations; which one refused is not said, so each is asked.
 */
async function collationsOf(destination: MongoClient, target: Namespace, keyPattern: Document | undefined): Promise<(Document | undefined)[]> {
  if (!keyPattern) return [undefined];
  const wanted = canonical(keyPattern);
  const matching = (await listIndexSpecs(destination, target.db, target.coll)).filter((spec) => spec.unique === true && canonical(spec.key) === wanted);
  return matching.length ? matching.map((spec) => spec.collation as Document | undefined) : [undefined];
}

/** A filter for the documents holding any of the values `doc` holds on each of the key's fields (array elements each). */
function holdingSameValues(doc: Document, keyPattern: Document): Document {
  const filter: Document = {};
  for (const [path] of fieldsOf(keyPattern)) {
    const values = valuesAt(doc, path.split('.'));
    // A missing field is indexed as null, and null matches a missing field.
    filter[path] = values.length === 0 ? null : values.length === 1 ? values[0] : { $in: values };
  }
  return filter;
}

/** The values at a dotted path, arrays on the way (and at its end) flattened, as a multikey index reads them. */
function valuesAt(value: unknown, path: string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((item) => valuesAt(item, path));
  if (!path.length) return [value];
  const [head, ...rest] = path;
  const next = value instanceof Map ? value.get(head!) : value && typeof value === 'object' && !('_bsontype' in value) ? (value as Document)[head!] : undefined;
  return next === undefined ? [] : valuesAt(next, rest);
}

/** The source namespace a batch's events for this destination namespace came from. */
export function batchSourceOfTarget(events: readonly { ns: { db: string; coll?: string }; uuid?: string }[], filter: NamespaceFilter): SourceOfTarget {
  return (target) => {
    const event = events.find((e) => {
      if (!e.ns.coll) return false;
      const t = filter.target(e.ns.db, e.ns.coll);
      return t.db === target.db && t.coll === target.coll;
    });
    return event ? { db: event.ns.db, coll: event.ns.coll!, ...(event.uuid ? { uuid: event.uuid } : {}) } : undefined;
  };
}
