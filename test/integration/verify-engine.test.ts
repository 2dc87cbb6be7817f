import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Binary,
  BSONRegExp,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  type CreateCollectionOptions,
  type Document,
  type MongoClient,
} from 'mongodb';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { NamespaceFilter } from '../../src/namespaces.js';
import { verifyMigration, type VerifyOptions } from '../../src/engine/verify/verify.js';
import { clientSideHash } from '../../src/engine/verify/content-hash.js';
import { findDifferences } from '../../src/engine/verify/find-differences.js';
import type { VerifyReport } from '../../src/model.js';

let source: MongoClient;
let destination: MongoClient;

beforeAll(async () => {
  source = await connect(sharedClusters().sourceUri);
  destination = await connect(sharedClusters().destinationUri);
});
afterAll(async () => {
  await Promise.all([source?.close(), destination?.close()]);
});

/** Documents of every BSON type a copy must preserve, with _ids of many types (sorted across type brackets). */
function documents(): Document[] {
  const oid = new ObjectId('65a000000000000000000001');
  return [
    { _id: new Int32(1), v: new Int32(1), s: 'one' },
    { _id: new Double(2.5), v: new Double(1), nested: { a: [new Int32(1), new Double(2), new Long(3)] } },
    { _id: Long.fromNumber(3), v: Long.fromString('9007199254740993') },
    { _id: Decimal128.fromString('4.0'), v: Decimal128.fromString('1.10') },
    { _id: 'a-string', re: new BSONRegExp('^a b$', 'ix'), code: new Code('function () { return 1; }') },
    { _id: oid, ts: new Timestamp({ t: 1700000000, i: 7 }), min: new MinKey(), max: new MaxKey() },
    { _id: new Date('2026-01-01T00:00:00Z'), bin: new Binary(Buffer.from('bytes'), 0), uuid: new Binary(Buffer.alloc(16, 7), 4) },
    { _id: { compound: new Int32(1), part: 'x' }, v: null, t: true },
    { _id: new MinKey(), v: 'min' },
    { _id: new MaxKey(), v: 'max' },
    ...Array.from({ length: 50 }, (_, i) => ({ _id: new Int32(100 + i), v: new Double(i / 3), pad: 'x'.repeat(i) })),
  ];
}

interface Seed {
  db: string;
  coll: string;
  options?: CreateCollectionOptions;
  docs?: Document[];
  indexes?: { key: Document; options?: Document }[];
}

/** Creates a collection once, with its options (never implicitly: see REAL_MONGODB.md), then fills it. */
async function seed(client: MongoClient, s: Seed, reverse = false): Promise<void> {
  await client.db(s.db).createCollection(s.coll, s.options ?? {});
  for (const index of s.indexes ?? []) await client.db(s.db).collection(s.coll).createIndex(index.key, index.options ?? {});
  const docs = reverse ? [...(s.docs ?? [])].reverse() : (s.docs ?? []);
  if (docs.length) await client.db(s.db).collection(s.coll).insertMany(docs, { ordered: true });
}

function filterFor(dbs: string[], rename: Record<string, string> = {}): NamespaceFilter {
  return new NamespaceFilter({ include: dbs.map((d) => `${d}.*`), exclude: [], rename });
}

const byKind = (report: VerifyReport, kind: string, namespace?: string): VerifyReport['mismatches'] =>
  report.mismatches.filter((m) => m.kind === kind && (!namespace || m.namespace === namespace));

/** Every kind of collection, written to both sides in opposite orders. */
async function seedIdenticalCopy(db: string): Promise<void> {
  const seeds: Seed[] = [
    { db, coll: 'plain', docs: documents(), indexes: [{ key: { s: 1, v: -1 }, options: { name: 's_v' } }, { key: { s: 1 }, options: { unique: true, sparse: true } }] },
    { db, coll: 'capped', options: { capped: true, size: 1 << 20, max: 1000 }, docs: documents() },
    { db, coll: 'clustered', options: { clusteredIndex: { key: { _id: 1 }, unique: true } }, docs: documents().filter((d) => !(d._id instanceof MinKey) && !(d._id instanceof MaxKey)) },
    { db, coll: 'validated', options: { validator: { $jsonSchema: { required: ['v'] } }, validationLevel: 'moderate', collation: { locale: 'fr', strength: 2 } }, docs: [{ _id: 'é', v: 1 }, { _id: 'b', v: 2 }] },
    { db, coll: 'ts', options: { timeseries: { timeField: 't', metaField: 'm' } }, docs: [1, 2, 3].map((i) => ({ t: new Date(1_700_000_000_000 + i * 1000), m: { sensor: i % 2 }, x: new Int32(i) })) },
    { db, coll: 'view', options: { viewOn: 'plain', pipeline: [{ $match: { s: 'one' } }] } },
  ];
  for (const s of seeds) {
    await seed(source, s);
    await seed(destination, s, true);
  }
}

describe('verify on real replica sets', () => {
  it('an identical copy of every kind of collection verifies equal, whatever the insertion order, with every method', async () => {
    const db = uniqueName('verify');
    await seedIdenticalCopy(db);
    const filter = filterFor([db]);
    for (const options of [{ mode: 'hash' }, { mode: 'hash', contentHash: 'client-side' }, { mode: 'count' }] as const) {
      const report = await verifyMigration(source, destination, filter, { ...options, exact: true });
      expect(report.mismatches, JSON.stringify(options)).toEqual([]);
      const methods = Object.fromEntries(report.collections.map((c) => [c.source.slice(db.length + 1), c.method]));
      expect(Object.keys(methods).sort()).toEqual(['capped', 'clustered', 'plain', 'ts', 'validated', 'view']);
      expect(methods.view).toBe('view-definition');
      expect(methods.ts).toBe(options.mode === 'count' ? 'count (time-series)' : 'count+client-hash (time-series measurements, fields in name order)');
      const dataMethod = options.mode === 'count' ? 'count' : 'contentHash' in options ? 'count+client-hash (client-side hash requested)' : 'count+dbHash';
      for (const c of ['plain', 'capped', 'clustered', 'validated']) expect(methods[c]).toBe(dataMethod);
      const plain = report.collections.find((c) => c.source === `${db}.plain`)!;
      expect(plain).toMatchObject({ sourceCount: 60, targetCount: 60, equal: true, kind: 'collection' });
      expect(report.collections.find((c) => c.source === `${db}.ts`)).toMatchObject({ sourceCount: 3, targetCount: 3, kind: 'timeseries' });
    }
  });

  it('catches a changed document, a missing one, an extra one, a missing index, a changed option, and names them', async () => {
    const db = uniqueName('verify');
    await seedIdenticalCopy(db);
    const plain = destination.db(db).collection('plain');
    // Type fidelity: the same value as a double instead of an int32 is a different document.
    await plain.updateOne({ _id: new Int32(1) as never }, { $set: { v: new Double(1) } });
    await plain.updateOne({ _id: new Int32(101) as never }, { $set: { pad: 'changed' } });
    await plain.deleteOne({ _id: Long.fromNumber(3) as never });
    await plain.deleteOne({ _id: new MaxKey() as never });
    await plain.insertOne({ _id: 'extra' as never, v: 'only here' });
    await plain.dropIndex('s_v');
    await destination.db(db).command({ collMod: 'validated', validationLevel: 'strict' });
    await destination.db(db).command({ collMod: 'view', viewOn: 'plain', pipeline: [{ $match: { s: 'two' } }] });
    await destination.db(db).createCollection('stray');
    // Not the migration's (another migration's or an application's): never judged.
    await destination.db(db).createCollection('neighbour');
    await source.db(db).createCollection('notcopied');

    for (const contentHash of ['auto', 'client-side'] as const) {
      const report = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true, contentHash, owned: [`${db}.stray`] });
      const ns = `${db}.plain`;
      expect(byKind(report, 'content', ns)).toEqual([expect.objectContaining({ ids: ['1', '101'] })]);
      expect(byKind(report, 'missing-document', ns)).toEqual([expect.objectContaining({ ids: ['NumberLong("3")', '{"$maxKey":1}'] })]);
      expect(byKind(report, 'extra-document', ns)).toEqual([expect.objectContaining({ ids: ['"extra"'] })]);
      expect(byKind(report, 'count', ns)[0]!.detail).toBe('source has 60 documents, destination 59');
      expect(byKind(report, 'index', ns)).toEqual([expect.objectContaining({ detail: expect.stringContaining('index s_v {"s":1,"v":-1} is missing on the destination') })]);
      expect(byKind(report, 'options', `${db}.validated`)).toEqual([expect.objectContaining({ detail: 'option validationLevel differs: source "moderate", destination "strict"' })]);
      expect(byKind(report, 'options', `${db}.view`)[0]!.detail).toContain('option pipeline differs');
      expect(byKind(report, 'extra-collection')).toEqual([expect.objectContaining({ namespace: `${db}.stray` })]);
      expect(byKind(report, 'missing-collection')).toEqual([expect.objectContaining({ namespace: `${db}.notcopied` })]);
      // Nothing else, and the untouched collections stay equal.
      expect(report.mismatches).toHaveLength(9);
      const equal = report.collections.filter((c) => c.equal).map((c) => c.source.slice(db.length + 1)).sort();
      expect(equal).toEqual(['capped', 'clustered', 'ts']);
    }
  });

  it('reports a type change hidden in an otherwise equal document, and a type change of the _id itself', async () => {
    const db = uniqueName('verify');
    const s: Seed = { db, coll: 'types', docs: [{ _id: new Int32(1), v: new Int32(1) }, { _id: new Int32(2), v: Long.fromNumber(5) }, { _id: new Int32(3), v: 'same' }] };
    await seed(source, s);
    await seed(destination, {
      ...s,
      docs: [{ _id: new Int32(1), v: new Double(1) }, { _id: new Int32(2), v: new Double(5) }, { _id: new Double(3), v: 'same' }],
    });
    for (const contentHash of ['auto', 'client-side'] as const) {
      for (const mode of ['hash', 'count'] as const) {
        const report = await verifyMigration(source, destination, filterFor([db]), { mode, exact: true, contentHash });
        if (mode === 'count') {
          // Counts alone cannot see it: that is what hash mode is for.
          expect(report.mismatches).toEqual([]);
          continue;
        }
        expect(report.mismatches).toEqual([{ namespace: `${db}.types`, kind: 'content', detail: '3 documents with different content (bytes or BSON types)', ids: ['1', '2', '3'] }]);
      }
    }
  });

  it('treats a relaxed unique or TTL index as a note while syncing and as a mismatch when exact', async () => {
    const db = uniqueName('verify');
    const base: Seed = { db, coll: 'users', docs: [{ _id: new Int32(1), email: 'a@x', at: new Date() }] };
    await seed(source, { ...base, indexes: [{ key: { email: 1 }, options: { unique: true, name: 'email' } }, { key: { at: 1 }, options: { expireAfterSeconds: 3600, name: 'ttl' } }] });
    await seed(destination, { ...base, indexes: [{ key: { email: 1 }, options: { name: 'email' } }, { key: { at: 1 }, options: { expireAfterSeconds: 2147483647, name: 'ttl' } }] });
    const relaxedIndexes = [{ target: `${db}.users`, name: 'email' }, { target: `${db}.users`, name: 'ttl' }];

    const syncing = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: false, relaxedIndexes });
    expect(syncing.mismatches).toEqual([]);
    expect(syncing.exact).toBe(false);
    expect(syncing.notes).toHaveLength(2);
    expect(syncing.notes![0]).toContain('index email is still relaxed');

    const atCutover = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true, relaxedIndexes });
    expect(atCutover.mismatches.map((m) => m.kind)).toEqual(['index', 'index']);
    expect(atCutover.mismatches[0]!.detail).toContain('but the verification must be exact');

    // An index that is not on the relaxed list is a mismatch even while syncing.
    const unlisted = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: false, relaxedIndexes: relaxedIndexes.slice(0, 1) });
    expect(unlisted.mismatches).toEqual([expect.objectContaining({ kind: 'index', detail: expect.stringContaining('index ttl differs: expireAfterSeconds: source 3600, destination 2147483647') })]);
  });

  it('follows renames of databases and collections, views included, and reports on the target names', async () => {
    const from = uniqueName('verify');
    const to = uniqueName('verify');
    const docs = documents().slice(0, 8);
    await seed(source, { db: from, coll: 'orders', docs, indexes: [{ key: { v: 1 } }] });
    await seed(source, { db: from, coll: 'items', docs });
    await seed(source, { db: from, coll: 'big_orders', options: { viewOn: 'orders', pipeline: [{ $match: { v: { $gt: 1 } } }] } });
    await seed(destination, { db: to, coll: 'orders_v2', docs, indexes: [{ key: { v: 1 } }] }, true);
    await seed(destination, { db: to, coll: 'items', docs }, true);
    await seed(destination, { db: to, coll: 'big_orders', options: { viewOn: 'orders_v2', pipeline: [{ $match: { v: { $gt: 1 } } }] } });
    const filter = filterFor([from], { [from]: to, [`${from}.orders`]: `${to}.orders_v2` });

    const equal = await verifyMigration(source, destination, filter, { mode: 'hash', exact: true });
    expect(equal.mismatches).toEqual([]);
    expect(equal.collections.map((c) => [c.source, c.target])).toEqual([
      [`${from}.big_orders`, `${to}.big_orders`],
      [`${from}.items`, `${to}.items`],
      [`${from}.orders`, `${to}.orders_v2`],
    ]);

    await destination.db(to).collection('orders_v2').updateOne({ _id: 'a-string' as never }, { $set: { re: new BSONRegExp('^a b$', 'i') } });
    const changed = await verifyMigration(source, destination, filter, { mode: 'hash', exact: true });
    expect(changed.mismatches).toEqual([
      { namespace: `${from}.orders`, target: `${to}.orders_v2`, kind: 'content', detail: '1 document with different content (bytes or BSON types)', ids: ['"a-string"'] },
    ]);
  });

  it('names at most maxIds _ids per kind and says there may be more', async () => {
    const db = uniqueName('verify');
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: new Int32(i), v: new Int32(i) }));
    await seed(source, { db, coll: 'many', docs });
    await seed(destination, { db, coll: 'many', docs: docs.map((d) => ({ ...d, v: new Double(d.v.value) })) });
    const report = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true, maxIds: 5 });
    expect(report.mismatches).toHaveLength(1);
    expect(report.mismatches[0]!.ids).toEqual(['0', '1', '2', '3', '4']);
    expect(report.mismatches[0]!.detail).toContain('there may be more');
  });

  it('streams: the client-side hash reads a collection in cursor batches, never whole', async () => {
    const db = uniqueName('verify');
    await source.db(db).createCollection('stream');
    const coll = source.db(db).collection('stream');
    for (let i = 0; i < 5; i++) await coll.insertMany(Array.from({ length: 1000 }, (_, j) => ({ _id: i * 1000 + j, pad: 'y'.repeat(100) })) as never[]);
    const monitored = await connect(`${sharedClusters().sourceUri}${sharedClusters().sourceUri.includes('?') ? '&' : '?'}monitorCommands=true`);
    try {
      const getMores: number[] = [];
      monitored.on('commandSucceeded', (e) => {
        if (e.commandName === 'getMore') getMores.push(((e.reply as Document).cursor?.nextBatch as unknown[] | undefined)?.length ?? 0);
      });
      const result = await clientSideHash({ client: monitored, db, coll: 'stream' }, { batchSize: 500 });
      expect(result.count).toBe(5000);
      expect(getMores.length).toBeGreaterThanOrEqual(9);
      expect(Math.max(...getMores)).toBeLessThanOrEqual(500);
    } finally {
      await monitored.close();
    }
  });

  it('streams large documents about 4 MB a reply (the driver\'s cursor asked 1,000 a reply: 16 MB ones), and hashes them as the server-side hash compares them', async () => {
    const db = uniqueName('verify');
    const doc = (i: number): Document => ({ _id: i, n: new Int32(i), pad: 'z'.repeat(200_000) });
    for (const side of [source, destination]) {
      const coll = side.db(db).collection('large');
      for (let i = 0; i < 120; i += 20) await coll.insertMany(Array.from({ length: 20 }, (_, j) => doc(i + j)) as never[]);
    }
    const monitored = await connect(`${sharedClusters().sourceUri}${sharedClusters().sourceUri.includes('?') ? '&' : '?'}monitorCommands=true`);
    try {
      const replies: number[] = [];
      monitored.on('commandSucceeded', (e) => {
        const cursor = (e.reply as Document).cursor as { firstBatch?: unknown[]; nextBatch?: unknown[] } | undefined;
        if (e.commandName === 'getMore' || e.commandName === 'find') replies.push((cursor?.firstBatch ?? cursor?.nextBatch ?? []).length);
      });
      const sourceHash = await clientSideHash({ client: monitored, db, coll: 'large' });
      expect(sourceHash.count).toBe(120);
      expect(replies.length, replies.join(', ')).toBeGreaterThanOrEqual(5);
      // Documents per reply: ~4 MB of 200 KB ones is 20 (and one over).
      expect(Math.max(...replies), replies.join(', ')).toBeLessThanOrEqual(21);
      expect((await clientSideHash({ client: destination, db, coll: 'large' })).hash).toBe(sourceHash.hash);
      await destination.db(db).collection('large').updateOne({ _id: 77 } as Document, { $set: { n: new Double(77) } }); // an int32 that became a double
      expect((await clientSideHash({ client: destination, db, coll: 'large' })).hash).not.toBe(sourceHash.hash);
    } finally {
      await monitored.close();
    }
  });

  it('stops when its signal is aborted', async () => {
    const db = uniqueName('verify');
    await seed(source, { db, coll: 'c', docs: documents() });
    await seed(destination, { db, coll: 'c', docs: documents() });
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    const options: VerifyOptions = { mode: 'hash', exact: false, signal: controller.signal };
    await expect(verifyMigration(source, destination, filterFor([db]), options)).rejects.toThrow('stop now');
  });

  it('names differing _ids across BSON type brackets and batch boundaries, with the server deciding equality', async () => {
    const db = uniqueName('verify');
    // 600 documents whose _ids span numbers of four types, strings, ObjectIds and dates, interleaved.
    const docs: Document[] = [];
    for (let i = 0; i < 100; i++) {
      docs.push({ _id: new Int32(i * 4), v: new Int32(i) });
      docs.push({ _id: new Double(i * 4 + 0.5), v: new Int32(i) });
      docs.push({ _id: Long.fromNumber(i * 4 + 1), v: new Int32(i) });
      docs.push({ _id: Decimal128.fromString(`${i * 4 + 2}.25`), v: new Int32(i) });
      docs.push({ _id: `s${String(i).padStart(3, '0')}`, v: new Int32(i) });
      docs.push({ _id: new ObjectId(i.toString(16).padStart(24, '0')), v: new Int32(i) });
    }
    await seed(source, { db, coll: 'mixed', docs });
    const changedIds = [new Double(40.5), 's050', Long.fromNumber(397)];
    const missingIds = [new Int32(0), Decimal128.fromString('202.25'), new ObjectId((99).toString(16).padStart(24, '0'))];
    const target = docs
      .filter((d) => !missingIds.some((m) => JSON.stringify(m) === JSON.stringify(d._id)))
      .map((d) => (changedIds.some((c) => JSON.stringify(c) === JSON.stringify(d._id)) ? { ...d, v: new Double((d.v as Int32).value) } : d));
    target.push({ _id: new Double(1.75), v: 'extra' }, { _id: new Date(0), v: 'extra' });
    await seed(destination, { db, coll: 'mixed', docs: target }, true);

    const found = await findDifferences({ client: source, db, coll: 'mixed' }, { client: destination, db, coll: 'mixed' }, { maxIds: 20, batchSize: 7 });
    expect(found.content).toEqual(['40.5', 'NumberLong("397")', '"s050"']);
    expect(found.missing).toEqual(['0', 'NumberDecimal("202.25")', 'ObjectId("000000000000000000000063")']);
    expect(found.extra).toEqual(['1.75', 'ISODate("1970-01-01T00:00:00.000Z")']);
  });

  it('looks up embedded-document _ids with integer-like field names as stored: equal ones are equal, a changed one is named', async () => {
    const db = uniqueName('verify');
    // {"10": i, "9": "x"}: decoded into a JS object, "9" comes first, another _id, which the destination lookup
    // then did not find: every document was named missing on both sides' equal copies.
    const idOf = (i: number): Map<string, unknown> => new Map<string, unknown>([['10', new Int32(i)], ['9', 'x']]);
    const docs = Array.from({ length: 40 }, (_, i) => new Map<string, unknown>([['_id', idOf(i)], ['v', new Int32(i)]]));
    await source.db(db).collection('keys').insertMany(docs as unknown as Document[]);
    await destination.db(db).collection('keys').insertMany(docs as unknown as Document[]);
    await destination.db(db).collection('keys').updateOne({ _id: idOf(33) } as unknown as Document, { $set: { v: 'changed' } });
    const found = await findDifferences({ client: source, db, coll: 'keys' }, { client: destination, db, coll: 'keys' }, { maxIds: 20, batchSize: 7 });
    expect(found).toMatchObject({ missing: [], extra: [], content: ['{"10":{"$numberInt":"33"},"9":"x"}'] });
  });

  it('under a case-insensitive collation, an _id that changed case is a changed document, not a missing plus an extra one', async () => {
    const db = uniqueName('verify');
    const options = { collation: { locale: 'en', strength: 2 } };
    await seed(source, { db, coll: 'ci', options, docs: [{ _id: 'alice', v: 1 }, { _id: 'bob', v: 2 }] });
    await seed(destination, { db, coll: 'ci', options, docs: [{ _id: 'ALICE', v: 1 }, { _id: 'bob', v: 2 }] });
    const report = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true });
    expect(report.mismatches).toEqual([expect.objectContaining({ kind: 'content', ids: ['"alice"'] })]);
  });

  it('time-series: the same measurements in different bucket layouts verify equal; a changed type or value does not', async () => {
    const db = uniqueName('verify');
    const options: CreateCollectionOptions = { timeseries: { timeField: 't', metaField: 'm', granularity: 'seconds' } };
    const t0 = 1_700_000_000_000;
    const measurements = Array.from({ length: 120 }, (_, i) => {
      const base = { _id: new ObjectId(i.toString(16).padStart(24, '0')), t: new Date(t0 + i * 61_000), m: { sensor: i % 3 } };
      // Fields in varying order and of varying types; some measurements lack a field.
      return i % 2
        ? { ...base, a: new Int32(i), b: new Double(i / 7), ...(i % 5 ? { c: Long.fromNumber(i) } : {}) }
        : { b: new Double(i / 7), a: new Int32(i), ...base, nested: { x: Decimal128.fromString(`${i}.5`), y: 'z' } };
    });
    await source.db(db).createCollection('metrics', options);
    await destination.db(db).createCollection('metrics', options);
    // One by one on the source; in one reversed batch on the destination: different buckets, different field orders.
    for (const m of measurements) await source.db(db).collection('metrics').insertOne(m);
    await destination.db(db).collection('metrics').insertMany([...measurements].reverse());

    const equal = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true });
    expect(equal.mismatches).toEqual([]);
    expect(equal.collections[0]).toMatchObject({ sourceCount: 120, targetCount: 120, equal: true, kind: 'timeseries' });

    // 7.0 updates time-series measurements only by metaField: delete one sensor's and write them back, one
    // of them with an int32 turned into a double.
    const metrics = destination.db(db).collection('metrics');
    await metrics.deleteMany({ 'm.sensor': 1 });
    await metrics.insertMany(measurements.filter((m) => m.m.sensor === 1).map((m) => (m.a.value === 7 ? { ...m, a: new Double(7) } : m)));
    expect(await metrics.countDocuments()).toBe(120);
    const changed = await verifyMigration(source, destination, filterFor([db]), { mode: 'hash', exact: true });
    expect(changed.mismatches).toEqual([expect.objectContaining({ namespace: `${db}.metrics`, kind: 'content' })]);
  });
});
