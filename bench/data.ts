import { Decimal128, Double, Int32, Long, ObjectId, type AnyBulkWriteOperation, type Document, type MongoClient } from 'mongodb';
import { seededRandom } from '../src/seeded-random.js';

/**
 * The benchmark's data: several collections of about `size`-byte documents with a realistic field mix
 * (strings, numbers of every BSON numeric type including integral doubles, dates, nested objects, arrays,
 * booleans) and secondary indexes (a unique one, a compound one, a plain one). Each collection has its own
 * _id type, so partition planning meets ObjectId, string and integer ranges.
 */
export const BENCH_DB = 'bench';
/** A collection the tail scenario writes a marker to (created with the others, never raced). */
export const MARKER_COLLECTION = 'marker';
const KINDS = ['orders', 'users', 'events', 'products', 'sessions', 'invoices', 'payments', 'audit'] as const;
const STATUSES = ['new', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'];
const CITIES = ['Lisbon', 'Berlin', 'Osaka', 'Lagos', 'Lima', 'Oslo', 'Austin', 'Pune', 'Quito', 'Perth'];
const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(' ');

export function collectionNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i < KINDS.length ? KINDS[i]! : `coll${i}`));
}

/** The same flags give the same data. */
export const rng = seededRandom;

const TEXT = (() => {
  const r = rng(7);
  const words: string[] = [];
  for (let i = 0; i < 20_000; i++) words.push(WORDS[Math.floor(r() * WORDS.length)]!);
  return words.join(' ');
})();

/** The _id of document n of collection c: ObjectId, string or integer depending on the collection. */
export function idOf(collectionIndex: number, n: number): unknown {
  switch (collectionIndex % 3) {
    case 0: return new ObjectId(n.toString(16).padStart(24, '0').replace(/^0{8}/, (collectionIndex + 0x60000000).toString(16).padStart(8, '0')));
    case 1: return `${collectionIndex}-${n.toString(36).padStart(8, '0')}`;
    default: return Long.fromNumber(n);
  }
}

export function emailOf(n: number): string {
  return `user${n}@example.com`;
}

/** Document n of a collection, about `size` bytes (the padding text makes up the rest). */
export function makeDocument(collectionIndex: number, n: number, size: number, r: () => number): Document {
  const created = new Date(Date.UTC(2024, 0, 1) + Math.floor(r() * 3e10));
  const doc: Document = {
    _id: idOf(collectionIndex, n),
    n: new Int32(n),
    email: emailOf(n),
    name: `${WORDS[n % WORDS.length]} ${WORDS[(n >> 3) % WORDS.length]}`,
    status: STATUSES[Math.floor(r() * STATUSES.length)],
    createdAt: created,
    updatedAt: new Date(created.getTime() + Math.floor(r() * 1e9)),
    amount: new Double(Math.floor(r() * 1000)), // integral doubles: the type a naive copy turns into int32
    ratio: r(),
    quantity: new Int32(Math.floor(r() * 100)),
    counter: Long.fromNumber(Math.floor(r() * 2 ** 40)),
    price: Decimal128.fromString((r() * 1000).toFixed(2)),
    active: r() < 0.8,
    tags: [WORDS[Math.floor(r() * WORDS.length)], WORDS[Math.floor(r() * WORDS.length)], WORDS[Math.floor(r() * WORDS.length)]],
    address: { street: `${Math.floor(r() * 999)} ${WORDS[n % WORDS.length]} street`, city: CITIES[n % CITIES.length], zip: String(10000 + (n % 89999)), geo: [r() * 360 - 180, r() * 180 - 90] },
    items: [
      { sku: `SKU-${n % 5000}`, qty: new Int32(1 + (n % 5)), unit: new Double(9.5) },
      { sku: `SKU-${(n * 7) % 5000}`, qty: new Int32(1), unit: new Double(20) },
    ],
    note: null,
  };
  const base = 520; // approximate BSON size of the fields above
  const pad = Math.max(0, size - base);
  const at = Math.floor(r() * (TEXT.length - pad - 1));
  doc.description = TEXT.slice(at, at + pad);
  return doc;
}

export const INDEXES: Document[] = [
  { key: { email: 1 }, name: 'email_unique', unique: true },
  { key: { status: 1, createdAt: -1 }, name: 'status_createdAt' },
  { key: { 'address.city': 1 }, name: 'city' },
];

export interface GenerateOptions {
  docs: number;
  size: number;
  collections: number;
}

/**
 * Creates the collections one at a time (never race a namespace's creation), fills them with two writers
 * per collection pair in flight, then builds the indexes. Returns the bytes of data the server reports.
 */
export async function generate(client: MongoClient, options: GenerateOptions, log: (line: string) => void): Promise<{ dataBytes: number; indexBytes: number }> {
  const db = client.db(BENCH_DB);
  const names = collectionNames(options.collections);
  for (const name of [...names, MARKER_COLLECTION]) await db.createCollection(name);
  const perCollection = Math.ceil(options.docs / options.collections);
  const started = Date.now();
  let written = 0;
  await Promise.all(
    names.map(async (name, c) => {
      const r = rng(1000 + c);
      const coll = db.collection(name);
      for (let from = 0; from < perCollection; from += 1000) {
        const batch: Document[] = [];
        for (let n = from; n < Math.min(perCollection, from + 1000); n++) batch.push(makeDocument(c, n, options.size, r));
        // w:1 while loading: the benchmark's own set-up is not what is measured.
        await coll.insertMany(batch, { ordered: false, writeConcern: { w: 1 } });
        written += batch.length;
        if (written % 100_000 < 1000) log(`  generated ${written} documents (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  for (const name of names) await db.command({ createIndexes: name, indexes: INDEXES });
  const stats = await db.command({ dbStats: 1 });
  return { dataBytes: Number(stats.dataSize), indexBytes: Number(stats.indexSize) };
}

/** One mixed operation of the tail load on document `n` of collection `c`. */
export function mixedOperation(c: number, n: number, insertN: number, size: number, r: () => number): { write: AnyBulkWriteOperation; kind: string } {
  const filter = { email: emailOf(n) };
  const pick = r();
  if (pick < 0.3) return { kind: 'insert', write: { insertOne: { document: makeDocument(c, insertN, size, r) } } };
  if (pick < 0.55) return { kind: 'update', write: { updateOne: { filter, update: { $set: { status: STATUSES[Math.floor(r() * STATUSES.length)], updatedAt: new Date() }, $inc: { quantity: new Int32(1) } } } } };
  if (pick < 0.7) return { kind: 'update', write: { updateOne: { filter, update: { $push: { tags: { $each: [WORDS[Math.floor(r() * WORDS.length)]], $slice: -5 } } } as Document } } };
  if (pick < 0.8) {
    const replacement = makeDocument(c, n, size, r);
    delete replacement._id;
    return { kind: 'replace', write: { replaceOne: { filter, replacement } } };
  }
  return { kind: 'delete', write: { deleteOne: { filter } } };
}
