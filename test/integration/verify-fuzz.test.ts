import { describe, expect, it } from 'vitest';
import { Binary, BSON, Decimal128, Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { verifyMigration } from '../../src/engine/verify/verify.js';
import { formatId } from '../../src/mongo/raw-bson.js';
import { NamespaceFilter } from '../../src/namespaces.js';
import { seededRandom } from '../../src/seeded-random.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { tailUntil } from '../support/tail-slices.js';
import { seeded } from '../support/seeded.js';

/**
 * A seeded verification fuzzer. Differences are planted on the destination behind the migration's back, of every
 * kind a byte comparison must see (a value's BSON type, the order of fields, integer-like field names in another
 * order, a changed value, a document gone, a document added, an int32 `_id` replaced by its double twin), on documents whose `_id`s are of many types
 * (numbers of four types, strings, ObjectIds, dates, binaries, documents with integer-like field names), some before
 * continuous verification has compared their partition and some after, while a writer changes other documents on
 * the source that the tail applies. Continuous verification must confirm exactly the planted documents and nothing
 * else, and the one-shot verify must name exactly them. Siblings of what it finds: a key or a document decoded into
 * a JS object and encoded again (the destination watch did, until 2026-12-03).
 */
const seed = Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STATE = '__mongo_live_migrate';
const PER_COLLECTION = 240;
/** Planted in each round, every collection in turn: each round plants on every kind of `_id`. */
const PLANTS_PER_ROUND = 9;

type IdMaker = (i: number) => unknown;

/** `_id`s of each collection, by index: values of distinct numbers whatever their types, so none collides. */
const ID_KINDS: Record<string, IdMaker> = {
  numbers: (i) => [new Int32(i * 4), new Double(i * 4 + 0.5), Long.fromNumber(i * 4 + 1), Decimal128.fromString(`${i * 4 + 2}.25`)][i % 4],
  others: (i) =>
    [`s${String(i).padStart(6, '0')}`, new ObjectId(i.toString(16).padStart(24, '0')), new Date(Date.UTC(2020, 0, 1) + i * 60_000), new Binary(Buffer.from(`b-${i}`), i % 8 === 3 ? 0 : 5)][i % 4],
  // Integer-like names: a JS object puts "9" before "10" (and "1" before "2"), another _id.
  nested: (i) => (i % 2 === 0 ? new Map<string, unknown>([['10', new Int32(i)], ['9', 'x']]) : new Map<string, unknown>([['2', 'y'], ['1', new Int32(i)]])),
};

/** A document of `_id` `id`, its fields in a fixed order (a plant may change it). */
function documentOf(id: unknown, i: number): Map<string, unknown> {
  return new Map<string, unknown>([
    ['_id', id],
    ['n', new Int32(i)],
    ['d', new Double(i % 7)],
    ['l', Long.fromNumber(i * 1000)],
    ['s', `v${i}`],
    ['sub', new Map<string, unknown>([['10', new Int32(i)], ['9', 'nine'], ['a', [new Int32(1), 'two']]])],
  ]);
}

type PlantKind = 'type' | 'order' | 'nested-order' | 'value' | 'missing' | 'extra' | 'twin';
const PLANT_KINDS: PlantKind[] = ['type', 'order', 'nested-order', 'value', 'missing', 'extra', 'twin'];

type DifferenceKind = 'content' | 'missing-document' | 'extra-document';

/**
 * A planted difference and what each verification must name. They differ for an `_id` twin (5 replaced by 5.0): the
 * one-shot verify pairs documents by the server's equality and names one changed document; continuous
 * verification pairs them by their bytes and confirms one missing and one extra.
 */
interface Planted {
  coll: string;
  /** How it was planted ('twin' only where the `_id` is an int32; a value change elsewhere). */
  how: PlantKind;
  continuous: { kind: DifferenceKind; id: unknown }[];
  oneShot: { kind: DifferenceKind; id: unknown }[];
}

/** The key the recheck queue names a document by: the bytes of `{_id}`. */
const keyHex = (id: unknown): string => Buffer.from(BSON.serialize(new Map([['_id', id]]))).toString('hex');

describe('verification fuzzer', () => {
  const clients = useSharedClients();

  it('confirms exactly the differences planted on the destination, whatever the _id types and field orders, none of the source\'s own changes', { timeout: 300_000 }, seeded('verify-fuzz', seed)(async () => {
    const random = seededRandom(seed);
    const pick = <T>(from: readonly T[]): T => from[Math.floor(random() * from.length)]!;
    const { source, destination } = clients;
    const db = uniqueName('vfuzz');
    const collections = Object.keys(ID_KINDS);
    for (const coll of collections) {
      await source.db(db).collection(coll).insertMany(Array.from({ length: PER_COLLECTION }, (_, i) => documentOf(ID_KINDS[coll]!(i), i)) as unknown as Document[]);
    }
    const config = testConfig(uniqueName('vfuzz').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(config, {}, testPorts('vfuzz-sync'))).exitCode).toBe(0);

    // Indexes split between the source's writer and the plants, so the tail never writes over a plant.
    const roles = collections.map(() => Array.from({ length: PER_COLLECTION }, () => (random() < 0.5 ? 'writer' : 'plant')));
    const indexesOf = (c: number, role: string): number[] => roles[c]!.map((r, i) => (r === role ? i : -1)).filter((i) => i >= 0);
    const free = collections.map((_, c) => indexesOf(c, 'plant'));
    const writers = collections.map((_, c) => indexesOf(c, 'writer'));
    const planted: Planted[] = [];
    const confirmations = (): number => planted.reduce((n, p) => n + p.continuous.length, 0);
    let extras = 0;
    const plant = async (c: number): Promise<void> => {
      const coll = collections[c]!;
      const target = destination.db(db).collection(coll);
      const kind = pick(PLANT_KINDS);
      if (kind === 'extra') {
        const id = ID_KINDS[coll]!(100_000 + extras++);
        await target.insertOne(documentOf(id, 0) as unknown as Document);
        const extra = [{ kind: 'extra-document' as const, id }];
        planted.push({ coll, how: kind, continuous: extra, oneShot: extra });
        return;
      }
      const index = free[c]!.splice(Math.floor(random() * free[c]!.length), 1)[0];
      if (index === undefined) return;
      const id = ID_KINDS[coll]!(index);
      const filter = new Map([['_id', id]]) as unknown as Document;
      const current = documentOf(id, index);
      if (kind === 'twin' && id instanceof Int32) {
        // The same number as a double: equal to the server, another _id to the bytes.
        const twin = new Double(id.value);
        await target.deleteOne(filter);
        await target.insertOne(new Map<string, unknown>([['_id', twin], ...[...current.entries()].filter(([k]) => k !== '_id')]) as unknown as Document);
        planted.push({ coll, how: kind, continuous: [{ kind: 'missing-document', id }, { kind: 'extra-document', id: twin }], oneShot: [{ kind: 'content', id }] });
        return;
      }
      if (kind === 'missing') await target.deleteOne(filter);
      else if (kind === 'type') await target.updateOne(filter, { $set: { n: new Double(index) } }); // same value, another type
      else if (kind === 'value' || kind === 'twin') await target.updateOne(filter, { $set: { s: 'planted' } }); // a twin needs an int32 _id
      else if (kind === 'nested-order') await target.updateOne(filter, { $set: { sub: new Map<string, unknown>([['9', 'nine'], ['10', new Int32(index)], ['a', [new Int32(1), 'two']]]) } });
      else {
        // The same fields in another order (the _id stays first).
        await target.replaceOne(filter, new Map<string, unknown>([['_id', id], ...[...current.entries()].filter(([k]) => k !== '_id').reverse()]) as unknown as Document);
      }
      const named = [{ kind: kind === 'missing' ? ('missing-document' as const) : ('content' as const), id }];
      planted.push({ coll, how: kind === 'twin' ? 'value' : kind, continuous: named, oneShot: named });
    };

    // The source changes meanwhile, on the writer's documents only: the tail applies each, nothing may be reported.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      const wr = seededRandom(seed + 1);
      while (writing) {
        const c = Math.floor(wr() * collections.length);
        const index = writers[c]![Math.floor(wr() * writers[c]!.length)]!;
        const coll = source.db(db).collection(collections[c]!);
        const id = ID_KINDS[collections[c]!]!(index);
        const filter = new Map([['_id', id]]) as unknown as Document;
        const op = wr();
        if (op < 0.6) await coll.updateOne(filter, { $set: { s: `w${writes}`, n: new Double(writes) } });
        else if (op < 0.8) await coll.replaceOne(filter, documentOf(id, writes) as unknown as Document, { upsert: true });
        else await coll.deleteOne(filter);
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    try {
      // Round one, before continuous verification has compared the partitions: the comparison finds them.
      for (let i = 0; i < PLANTS_PER_ROUND; i++) await plant(i % collections.length);
      const covered = await tailUntil(config, (s) => Boolean(s.progress?.verification?.complete) && (s.progress?.verification?.mismatches ?? 0) >= confirmations(), 14, 'vfuzz');
      expect(covered.progress?.verification?.complete, covered.summary).toBe(true);
      // Round two, once every partition is compared: only the destination's watch can see these.
      const before = planted.length;
      for (let i = 0; i < PLANTS_PER_ROUND; i++) await plant(i % collections.length);
      expect(planted.length).toBeGreaterThan(before);
      await tailUntil(config, (s) => (s.progress?.verification?.mismatches ?? 0) >= confirmations(), 14, 'vfuzz');
    } finally {
      writing = false;
      await writer;
    }
    // The writer's last changes applied, and rechecked (a slice compares what the tail touched).
    const settled = await tailUntil(config, () => false, 2, 'vfuzz');

    const expected = planted.flatMap((p) => p.continuous.map((d) => `${db}.${p.coll} ${d.kind} ${keyHex(d.id)}`)).sort();
    const confirmed = await destination.db(STATE).collection('recheck').find({ m: config.name, attempts: { $gte: 2 } }).toArray();
    const found = confirmed.map((q) => `${String(q.t)} ${String(q.mismatch)} ${Buffer.from((q.key as Binary).buffer).toString('hex')}`).sort();
    expect(found, `${writes} source writes; ${settled.summary}`).toEqual(expected);
    expect(settled.progress?.verification?.mismatches).toBe(expected.length);

    // The one-shot verify names the same documents (source quiet, tail drained).
    const report = await verifyMigration(source, destination, new NamespaceFilter({ include: [`${db}.*`], exclude: [], rename: {} }), { mode: 'hash', exact: false, maxIds: 100 });
    const named = report.mismatches.flatMap((m) => (m.ids ?? []).map((id) => `${m.namespace} ${m.kind} ${id}`)).sort();
    expect(named).toEqual(planted.flatMap((p) => p.oneShot.map((d) => `${db}.${p.coll} ${d.kind} ${formatId(d.id)}`)).sort());
    const kinds = new Map<string, number>();
    for (const p of planted) kinds.set(p.how, (kinds.get(p.how) ?? 0) + 1);
    console.log(`[verify-fuzz] figure: ${planted.length} differences planted (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), ${writes} source writes meanwhile`);
  }));
});

