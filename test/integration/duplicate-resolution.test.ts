import { describe, expect, it } from 'vitest';
import { BSON, type Document } from 'mongodb';
import { majorityDestination, orderedJob, unorderedJobs, type Write } from '../../src/engine/apply/raw-writes.js';
import { withDuplicateKeyResolution } from '../../src/engine/apply/resolve-duplicates.js';
import { readView } from '../../src/engine/apply/source-lookup.js';
import type { Namespace } from '../../src/namespaces.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

/**
 * The applier's duplicate-key resolution, on real servers: a write job whose statements collide with documents
 * the destination holds in an older state (a batch replayed after a crash, unique indexes finalized during tail).
 * The source is the truth; every statement of the job that is not superseded must still reach the destination.
 */
describe('duplicate keys met by a write job', () => {
  const clients = useSharedClients();
  const put = (doc: Document): Write => ({ kind: 'put', key: Buffer.from(BSON.serialize({ _id: doc._id })), doc: Buffer.from(BSON.serialize(doc)) });
  const ins = (doc: Document): Write => ({ kind: 'ins', key: Buffer.from(BSON.serialize({ _id: doc._id })), doc: Buffer.from(BSON.serialize(doc)) });
  const inserted = (doc: Document): Write => ({ kind: 'new', key: Buffer.from(BSON.serialize({ _id: doc._id })), doc: Buffer.from(BSON.serialize(doc)) });

  async function setUp(options: Document = {}): Promise<Namespace> {
    const { source, destination } = clients;
    const ns = { db: uniqueName('dupres'), coll: 'items' };
    for (const client of [source, destination]) {
      await client.db(ns.db).createCollection(ns.coll, options);
      await client.db(ns.db).collection(ns.coll).createIndex({ k: 1 }, { unique: true, name: 'k' });
    }
    // The source now: a took a new value, b holds a's old one. The destination still has b's old value... and
    // a statement of the job carries a's old state, which collides with b.
    await source.db(ns.db).collection<{ _id: string; k: string }>(ns.coll).insertMany([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }, { _id: 'c', k: 'c-new' }]);
    await destination.db(ns.db).collection<{ _id: string; k: string }>(ns.coll).insertMany([{ _id: 'b', k: 'a-was' }]);
    return ns;
  }

  const resolve = (ns: Namespace, job: Parameters<typeof withDuplicateKeyResolution>[3]): Promise<void> =>
    withDuplicateKeyResolution(readView(clients.source, undefined), majorityDestination(clients.destination), () => ns, job);

  it('an ordered job (capped, collation, one document) writes every statement behind the refused one', async () => {
    const ns = await setUp({ collation: { locale: 'en', strength: 2 } });
    const job = orderedJob(majorityDestination(clients.destination), ns, [put({ _id: 'a', k: 'a-was' }), put({ _id: 'c', k: 'c-new' })], 100);
    await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    const docs = await clients.destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray();
    // a from the source (its statement superseded), c written although it came after the refusal.
    expect(docs).toEqual([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }, { _id: 'c', k: 'c-new' }]);
  });

  it('an unordered job ends with the source state of the refused documents and the rest as written', async () => {
    const ns = await setUp();
    const jobs = unorderedJobs(majorityDestination(clients.destination), ns, [put({ _id: 'a', k: 'a-was' }), put({ _id: 'c', k: 'c-new' })], 100);
    for (const job of jobs) await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    const docs = await clients.destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray();
    expect(docs).toEqual([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }, { _id: 'c', k: 'c-new' }]);
  });

  it('insert events sent as inserts: one whose _id is there ends as a put would leave it, one refused by a unique index is resolved', async () => {
    const ns = await setUp();
    // d as an older copy holds it (a batch applied again after a crash), with a field the source's insert lacks.
    await clients.destination.db(ns.db).collection<{ _id: string; k: string; stale?: boolean }>(ns.coll).insertOne({ _id: 'd', k: 'd-old', stale: true });
    await clients.source.db(ns.db).collection<{ _id: string; k: string }>(ns.coll).insertOne({ _id: 'd', k: 'd-new' });
    const writes = [inserted({ _id: 'a', k: 'a-was' }), inserted({ _id: 'c', k: 'c-new' }), inserted({ _id: 'd', k: 'd-new' })];
    const jobs = unorderedJobs(majorityDestination(clients.destination), ns, writes, 100);
    expect(jobs).toHaveLength(1);
    for (const job of jobs) await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    const docs = await clients.destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray();
    expect(docs).toEqual([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }, { _id: 'c', k: 'c-new' }, { _id: 'd', k: 'd-new' }]);
  });

  it('finds the holder of a unique value that is a document whose field names look like integers', async () => {
    const { source, destination } = clients;
    const ns = { db: uniqueName('dupdoc'), coll: 'items' };
    // Maps: stored "x" before "10", the order a JS object reverses (and the decoded key value then matches nothing).
    const value = (v: string): Map<string, string> => new Map([['x', 'a'], ['10', v]]);
    for (const client of [source, destination]) await client.db(ns.db).collection(ns.coll).createIndex({ k: 1 }, { unique: true, name: 'k' });
    // b has moved on from the value a holds now; the destination still has b's older state, which a collides with.
    await source.db(ns.db).collection<Document>(ns.coll).insertMany([{ _id: 'a', k: value('now') }, { _id: 'b', k: value('later') }] as Document[]);
    await destination.db(ns.db).collection<Document>(ns.coll).insertOne({ _id: 'b', k: value('now') } as Document);
    const jobs = unorderedJobs(majorityDestination(destination), ns, [put({ _id: 'a', k: value('now') })], 100);
    for (const job of jobs) await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    const read = async (client: typeof source): Promise<string[]> => ((await client.db(ns.db).collection(ns.coll).find({}, { raw: true }).sort({ _id: 1 }).toArray()) as unknown as Buffer[]).map((b) => b.toString('hex'));
    expect(await read(destination)).toEqual(await read(source));
  });

  it('finds the holder of a unique value under the index collation when the collection has none', async () => {
    const { source, destination } = clients;
    const ns = { db: uniqueName('dupcoll'), coll: 'items' };
    for (const client of [source, destination]) await client.db(ns.db).collection(ns.coll).createIndex({ k: 1 }, { unique: true, name: 'k', collation: { locale: 'en', strength: 2 } });
    // The destination's stale b holds "ab", equal under the index's collation to the "AB" a holds now.
    await source.db(ns.db).collection<Document>(ns.coll).insertMany([{ _id: 'a', k: 'AB' }, { _id: 'b', k: 'cd' }] as Document[]);
    await destination.db(ns.db).collection<Document>(ns.coll).insertOne({ _id: 'b', k: 'ab' } as Document);
    const jobs = unorderedJobs(majorityDestination(destination), ns, [put({ _id: 'a', k: 'AB' })], 100);
    for (const job of jobs) await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    expect(await destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 'a', k: 'AB' }, { _id: 'b', k: 'cd' }]);
  });

  it('resolves from the collection the events came from (its UUID), wherever a rename since has moved it', async () => {
    const ns = await setUp();
    const { source, destination } = clients;
    const [info] = await source.db(ns.db).listCollections({ name: ns.coll }, { nameOnly: false }).toArray();
    const uuid = (info as { info: { uuid: { toString(f: 'hex'): string } } }).info.uuid.toString('hex');
    // Later in the stream (not applied yet on the destination): the collection is renamed away and another one,
    // without a or b, takes its name. By name, a read as gone (a delete) or as the newcomer's document.
    await source.db('admin').command({ renameCollection: `${ns.db}.${ns.coll}`, to: `${ns.db}.items_old` });
    await source.db(ns.db).collection<{ _id: string; k: string }>(ns.coll).insertOne({ _id: 'a', k: 'newcomer' });
    const job = unorderedJobs(majorityDestination(destination), ns, [put({ _id: 'a', k: 'a-was' }), put({ _id: 'c', k: 'c-new' })], 100)[0]!;
    await withDuplicateKeyResolution(readView(source, undefined), majorityDestination(destination), () => ({ ...ns, uuid }), (settled) => job((w) => settled(ns, w.key)));
    const docs = await destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray();
    expect(docs).toEqual([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }, { _id: 'c', k: 'c-new' }]);
  });

  it('an insert into a capped collection refused by a unique secondary index is resolved, not stepped over', async () => {
    const ns = await setUp({ capped: true, size: 1024 * 1024 });
    // The old state of a is on the destination, an insert of b (a's old value) arrives: the insert collides.
    await clients.destination.db(ns.db).collection(ns.coll).deleteMany({});
    await clients.destination.db(ns.db).collection<{ _id: string; k: string }>(ns.coll).insertOne({ _id: 'a', k: 'a-was' });
    const job = orderedJob(majorityDestination(clients.destination), ns, [ins({ _id: 'b', k: 'a-was' })], 100);
    await resolve(ns, (settled) => job((w) => settled(ns, w.key)));
    const docs = await clients.destination.db(ns.db).collection(ns.coll).find().sort({ _id: 1 }).toArray();
    expect(docs).toEqual([{ _id: 'a', k: 'a-now' }, { _id: 'b', k: 'a-was' }]);
  });
});
