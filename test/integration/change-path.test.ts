import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Double, Int32, Long, type Document, type MongoClient } from 'mongodb';
import { runCutover } from '../../src/commands/cutover.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { parseConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { insertRaw } from '../../src/engine/copy/raw-insert.js';
import { StateStore } from '../../src/engine/state/store.js';
import { encodedElements, rawDocument, rawElement } from '../../src/mongo/raw-bson.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { expectSidesEqual } from '../support/exact.js';
import { tailUntilCaughtUp } from '../support/runner-process.js';

/**
 * The change path (capture → buffer → replay → tail → DDL mirroring) converges to the source exactly: one test
 * per way it was once seen to lose or change data, each ending with every namespace of both sides compared
 * byte for byte (extra namespaces on the destination included).
 */
describe('the change path is as exact as the copy', () => {
  const clients = useSharedClients();

  const config = (db: string, extra = '', databases = [db]): Config => {
    const { sourceUri, destinationUri } = sharedClusters();
    return testConfig(uniqueName('cp').replace(/_/g, '-'), sourceUri, destinationUri, databases, extra);
  };
  const sync = async (c: Config): Promise<void> => {
    const result = await runSync(c, {}, testPorts());
    expect(result.exitCode, result.summary).toBe(0);
    expect(result.progress?.phase).toBe('tailing');
  };
  /** Tail slices of `ms` until the destination has applied the source's last write. */
  const tail = async (c: Config, ms = 3000): Promise<void> => {
    await tailUntilCaughtUp(clients, c.name, async () => {
      const result = await runTail(c, { maxDurationMs: ms }, testPorts());
      expect(result.exitCode, result.summary).toBe(0);
    });
  };
  const withIncludes = (include: string[]): Config => {
    const { sourceUri, destinationUri } = sharedClusters();
    const yaml = `version: 1\nname: ${uniqueName('cp').replace(/_/g, '-')}\nsource: { uri: "\${SRC}" }\ndestination: { uri: "\${DST}" }\nnamespaces:\n  include: [${include.map((i) => `"${i}"`).join(', ')}]\n`;
    return parseConfig(yaml, 'migration.yaml', { env: { SRC: sourceUri, DST: destinationUri } });
  };
  /** A document given in field order (a JS object would put integer-like names first). */
  const ordered = (entries: [string, unknown][]): Map<string, unknown> => new Map(entries);

  it('documents from change events reach the destination as the source bytes (integer-like names, undefined, DBPointer, duplicate names)', async () => {
    const { source, destination } = clients;
    const db = uniqueName('bytes');
    await source.db(db).createCollection('c');
    await source.db(db).command({ insert: 'c', documents: [ordered([['_id', 1], ['byYear', ordered([['2024', 10], ['2023', 7]])]])] });
    const c = config(db);
    await sync(c);
    // During tail: inserts, an update (looked up), a replacement, all with integer-like names out of order.
    await source.db(db).command({ insert: 'c', documents: [ordered([['_id', 2], ['byYear', ordered([['2024', 1], ['2023', 2], ['10', 3]])]])] });
    await source.db(db).collection('c').updateOne({ _id: 1 } as Document, { $set: { touched: new Double(1) } });
    await source.db(db).command({ update: 'c', updates: [{ q: { _id: 3 }, u: ordered([['9', 'nine'], ['1', 'one']]), upsert: true }] });
    // Values a JS object cannot hold, written as raw BSON.
    const dbPointer = Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from('x.y\0'), Buffer.from('64b7f0c2a1b2c3d4e5f60718', 'hex')]);
    const odd = rawDocument([...encodedElements({ _id: 4 }), rawElement(0x06, 'undef', Buffer.alloc(0)), rawElement(0x0c, 'ptr', dbPointer), ...encodedElements({ a: 1 }), ...encodedElements({ a: 2 })]);
    await insertRaw(source, db, 'c', [odd], { w: 1 });
    await source.db(db).collection('c').updateOne({ _id: 4 } as Document, { $set: { later: true } });
    await tail(c);
    await expectSidesEqual(source, destination, [db]);
    expect(await destination.db(db).collection('c').countDocuments({ byYear: ordered([['2024', 10], ['2023', 7]]) } as Document)).toBe(1);
  });

  it('events over 16 MB (a 9 MB document updated by a 9 MB $set, a document near 16 MB inserted) are applied, and tail keeps going', async () => {
    const { source, destination } = clients;
    const db = uniqueName('large');
    await source.db(db).createCollection('big');
    await source.db(db).collection('big').insertOne({ _id: 'nine', payload: 'a'.repeat(9 * 1024 * 1024) } as Document);
    const c = config(db);
    await sync(c);
    await source.db(db).collection('big').updateOne({ _id: 'nine' } as Document, { $set: { payload: 'b'.repeat(9 * 1024 * 1024) } });
    await source.db(db).collection('big').insertOne({ _id: 'near16', payload: 'c'.repeat(16 * 1024 * 1024 - 200) } as Document);
    await source.db(db).collection('big').insertOne({ _id: 'after', small: true } as Document);
    await tail(c, 6000);
    await expectSidesEqual(source, destination, [db]);
    const state = await new StateStore(destination, c.name).get();
    expect(state?.streamError).toBeUndefined();
  });

  it('renames and a swap after the capture point, before their collections are copied, move the right data', async () => {
    const { source, destination } = clients;
    const db = uniqueName('renamecopy');
    const sdb = source.db(db);
    for (const coll of ['a_big', 'live', 'live_new', 'live_old', 'z_small']) await sdb.createCollection(coll);
    const pad = 'p'.repeat(900);
    for (let i = 0; i < 40_000; i += 10_000) await sdb.collection('a_big').insertMany(Array.from({ length: 10_000 }, (_, j): Document => ({ _id: i + j, pad })));
    await sdb.collection('z_small').insertMany(Array.from({ length: 5000 }, (_, i): Document => ({ _id: i, v: i })));
    await sdb.collection('live').insertMany(Array.from({ length: 1200 }, (_, i): Document => ({ _id: i, gen: 'old' })));
    await sdb.collection('live_new').insertMany(Array.from({ length: 1200 }, (_, i): Document => ({ _id: i, gen: 'new' })));
    await sdb.collection('live_old').insertMany([{ _id: 'stale' } as Document]);
    const c = config(db, 'sync: { batchSize: 200, parallelCollections: 1 }\n');
    const store = new StateStore(destination, c.name);
    const syncing = runSync(c, {}, testPorts());
    // Once the copy has started (the plan is recorded, a_big is being copied), rename and swap.
    for (let i = 0; i < 600; i++) {
      const copied = await store.partitions.countDocuments({ migration: c.name, documentsCopied: { $gt: 0 } });
      if (copied > 0) break;
      await sleep(50);
    }
    await source.db('admin').command({ renameCollection: `${db}.z_small`, to: `${db}.z_moved` });
    await sdb.collection('live_old').drop();
    await source.db('admin').command({ renameCollection: `${db}.live`, to: `${db}.live_old` });
    await source.db('admin').command({ renameCollection: `${db}.live_new`, to: `${db}.live`, dropTarget: true });
    await sdb.collection('live').insertOne({ _id: 'after-swap' } as Document);
    const result = await syncing;
    expect(result.exitCode, result.summary).toBe(0);
    const partitions = await store.partitions.find({ migration: c.name, source: `${db}.z_small` }).toArray();
    expect(partitions.reduce((n, p) => n + p.documentsCopied, 0), 'z_small was copied from its new name').toBe(5000);
    await tail(c);
    await expectSidesEqual(source, destination, [db]);
    expect(await destination.db(db).collection('z_moved').countDocuments()).toBe(5000);
    expect(await destination.db(db).collection('live').countDocuments({ gen: 'new' })).toBe(1200);
  });

  it('dropDatabase removes the database views too', async () => {
    const { source, destination } = clients;
    const db = uniqueName('dropdb');
    await source.db(db).createCollection('c');
    await source.db(db).collection('c').insertMany([{ v: 1 }, { v: 2 }]);
    await source.db(db).createCollection('v', { viewOn: 'c', pipeline: [{ $match: { v: 1 } }] });
    const c = config(db);
    await sync(c);
    await source.db(db).dropDatabase();
    await tail(c);
    await expectSidesEqual(source, destination, [db]);
    expect(await destination.db(db).listCollections().toArray()).toEqual([]);
  });

  it('_ids the server takes for one document but whose bytes differ are applied in stream order', async () => {
    const { source, destination } = clients;
    const db = uniqueName('sameid');
    const coll = source.db(db).collection<Document>('c');
    await source.db(db).createCollection('c');
    await coll.insertMany([{ _id: { user: new Int32(1) }, v: 'int' }, { _id: new Int32(5), v: 'int' }, { _id: 'keep' }] as unknown as Document[]);
    const c = config(db);
    await sync(c);
    // While no runner runs: both end up in one batch.
    await coll.deleteOne({ _id: { user: new Int32(1) } } as Document);
    await coll.insertOne({ _id: { user: Long.fromNumber(1) }, v: 'long' } as Document);
    await coll.deleteOne({ _id: new Int32(5) } as Document);
    await coll.insertOne({ _id: new Double(5), v: 'double' } as Document);
    await coll.updateOne({ _id: new Double(5) } as Document, { $set: { w: 1 } });
    await tail(c);
    await expectSidesEqual(source, destination, [db]);
  });

  it('a capped collection receives a backlog in order (what the source evicted, and only that, is evicted)', async () => {
    const { source, destination } = clients;
    const db = uniqueName('capped');
    await source.db(db).createCollection('log', { capped: true, size: 1024 * 1024, max: 1000 });
    await source.db(db).collection('log').insertMany(Array.from({ length: 500 }, (_, i) => ({ seq: i })));
    const c = config(db);
    await sync(c);
    for (let i = 0; i < 3000; i += 500) await source.db(db).collection('log').insertMany(Array.from({ length: 500 }, (_, j) => ({ seq: 500 + i + j })));
    await tail(c, 5000);
    const seqs = async (client: MongoClient): Promise<number[]> => (await client.db(db).collection('log').find({}, { sort: { $natural: 1 } }).toArray()).map((d) => Number(d.seq));
    expect(await seqs(destination)).toEqual(await seqs(source));
    await expectSidesEqual(source, destination, [db]);
  });

  it('a clustered collection with a TTL syncs (its TTL waits for the cutover) and gets it back at cutover', async () => {
    const { source, destination } = clients;
    const db = uniqueName('clusttl');
    await source.db(db).createCollection('events', { clusteredIndex: { key: { _id: 1 }, unique: true }, expireAfterSeconds: 3600 });
    await source.db(db).collection<Document>('events').insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: new Date(Date.now() + i * 1000), i })));
    // No write block: this source is shared with other tests (the applications-stopped path of cutover).
    const c = config(db, 'cutover: { maxLagSeconds: 30, lagHoldSeconds: 0, verify: hash, writeBlock: none }\n');
    await sync(c);
    const [during] = await destination.db(db).listCollections({ name: 'events' }, { nameOnly: false }).toArray() as Document[];
    expect((during?.options as Document).expireAfterSeconds).toBeUndefined();
    await tail(c);
    await expectSidesEqual(source, destination, [db]);
    const cutover = await runCutover(c, { confirm: c.name, applicationsStopped: true }, testPorts());
    expect(cutover.exitCode, cutover.summary).toBe(0);
    const [after] = await destination.db(db).listCollections({ name: 'events' }, { nameOnly: false }).toArray() as Document[];
    expect(Number((after?.options as Document).expireAfterSeconds)).toBe(3600);
  });

  it('$out on the source (its temporary tmp.agg_out collection) is mirrored, with db.* and with named collections', async () => {
    const { source, destination } = clients;
    for (const wide of [true, false]) {
      const db = uniqueName('aggout');
      await source.db(db).createCollection('orders');
      await source.db(db).collection('orders').insertMany(Array.from({ length: 300 }, (_, i) => ({ i, k: i % 3 })));
      const c = wide ? config(db) : withIncludes([`${db}.orders`, `${db}.report`]);
      await sync(c);
      await source.db(db).collection('orders').aggregate([{ $group: { _id: '$k', n: { $sum: 1 } } }, { $out: 'report' }]).toArray();
      await source.db(db).collection('orders').aggregate([{ $match: { k: 1 } }, { $out: 'report' }]).toArray();
      await tail(c);
      await expectSidesEqual(source, destination, [db]);
      expect(await destination.db(db).collection('report').countDocuments()).toBe(100);
    }
  });
});
