import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Binary, Double, Int32, Long, MaxKey, MinKey, ObjectId, type Document, type MongoClient } from 'mongodb';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes, everyTypeDocument, indexKeys, rawHash, tailUntilReady, testConfig, testPorts, Writer } from '../support/engine.js';

describe('sync then tail under concurrent writes', () => {
  let source: MongoClient;
  let destination: MongoClient;
  let writer: Writer | undefined;
  const db = uniqueName('synctail');
  const renamedDb = `${db}_r`;

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    const sdb = source.db(db);
    await sdb.createCollection('orders');
    await sdb.createCollection('events', { capped: true, size: 1024 * 1024 });
    await sdb.createCollection('clustered', { clusteredIndex: { key: { _id: 1 }, unique: true } });
    await sdb.createCollection('strict', { validator: { $jsonSchema: { required: ['x'] } }, collation: { locale: 'fr', strength: 2 } });
    await sdb.createCollection('w');
    await sdb.createCollection('moved');
    const orders = Array.from({ length: 3000 }, (_, i) => ({ _id: new ObjectId(), sku: `sku-${i}`, a: i % 10, b: i, createdAt: new Date(), total: new Double(i), qty: new Int32(i % 7) }));
    await sdb.collection('orders').insertMany(orders);
    // Mixed _id types in one collection, and every BSON type.
    const mixed: Document[] = [
      everyTypeDocument(new Int32(1)), everyTypeDocument(Long.fromNumber(2)), everyTypeDocument(new Double(3.5)), everyTypeDocument('str-id'),
      everyTypeDocument({ compound: 1, key: 'x' }), everyTypeDocument(new Binary(Buffer.from('bin-id'), 0)), everyTypeDocument(new Date(0)),
      everyTypeDocument(true), everyTypeDocument(new MinKey()), everyTypeDocument(new MaxKey()), everyTypeDocument(null),
    ];
    await sdb.collection('orders').insertMany(mixed);
    await sdb.collection('orders').createIndexes([{ key: { sku: 1 }, unique: true, sparse: true, name: 'sku_unique' }, { key: { createdAt: 1 }, expireAfterSeconds: 3600, name: 'ttl' }, { key: { a: 1, b: -1 }, name: 'a_b' }]);
    await sdb.collection('events').insertMany(Array.from({ length: 200 }, (_, i) => ({ seq: i, pad: 'e'.repeat(100) })));
    await sdb.collection<Document>('clustered').insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: i, v: `c${i}` })));
    await sdb.collection('strict').insertMany([{ x: 1 }, { y: 'violates the validator' }], { bypassDocumentValidation: true });
    await sdb.collection<Document>('moved').insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i })));
    await sdb.createCollection('big_orders', { viewOn: 'orders', pipeline: [{ $match: { b: { $gt: 100 } } }] });
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await source?.close();
    await destination?.close();
  });

  it('copies, replays and tails until the destination equals the source', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const config = testConfig(uniqueName('mig').replace(/_/g, '-'), sourceUri, destinationUri, [db], `  rename: { "${db}.moved": "${renamedDb}.landed" }\nsync: { batchSize: 500, partitionSizeMB: 1 }\ncutover: { maxLagSeconds: 5 }\n`);
    writer = new Writer(sourceUri, db, ['orders', 'w']);
    writer.start(3);
    const sync = await runSync(config, {}, testPorts());
    expect(sync.exitCode).toBe(0);
    expect(sync.progress?.phase).toBe('tailing');
    expect(sync.progress?.totals.documentsCopied).toBeGreaterThanOrEqual(3000 + 11 + 200 + 100 + 2 + 50);

    // DDL while tailing: a new collection with an index, a dropped index, a collMod, a rename within scope.
    await source.db(db).createCollection('born_later');
    await source.db(db).collection<Document>('born_later').insertMany([{ _id: 1, k: 'a' }, { _id: 2, k: 'b' }] as Document[]);
    await source.db(db).collection('born_later').createIndex({ k: 1 }, { name: 'k_1' });
    await source.db(db).collection('orders').dropIndex('a_b');
    await source.db(db).command({ collMod: 'strict', validationLevel: 'moderate' });
    await source.db(db).collection('w').createIndex({ v: 1 }, { unique: true, sparse: true, name: 'v_unique' }).catch(() => undefined);

    const tail = runTail(config, { maxDurationMs: 6000 }, testPorts());
    await new Promise((r) => setTimeout(r, 3000));
    const acknowledged = await writer.stop();
    expect(acknowledged).toBeGreaterThan(50);
    const first = await tail;
    expect(first.exitCode).toBe(0);
    const final = await tailUntilReady(config, 'sync-tail-final');
    expect(final.progress?.readyForCutover, final.summary).toBe(true);
    expect(final.continue).toBe(true); // replication goes on while ready, until the cutover takes over

    const [srcHashes, dstHashes] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    for (const coll of ['orders', 'clustered', 'strict', 'w', 'born_later']) {
      expect(dstHashes[coll], `${coll} content`).toBe(srcHashes[coll]);
    }
    expect(await rawHash(destination, db, 'events')).toEqual(await rawHash(source, db, 'events'));
    expect(await rawHash(destination, renamedDb, 'landed')).toEqual(await rawHash(source, db, 'moved'));
    expect(await indexKeys(destination, db, 'orders')).toEqual(await indexKeys(source, db, 'orders'));
    expect(await indexKeys(destination, db, 'born_later')).toEqual(await indexKeys(source, db, 'born_later'));
    const [dstStrict] = (await destination.db(db).listCollections({ name: 'strict' }).toArray()) as Document[];
    expect(dstStrict?.options).toMatchObject({ validationLevel: 'moderate', collation: { locale: 'fr', strength: 2 } });
    const [dstView] = await destination.db(db).listCollections({ name: 'big_orders' }).toArray();
    expect(dstView).toMatchObject({ type: 'view', options: { viewOn: 'orders' } });
    const [capped] = (await destination.db(db).listCollections({ name: 'events' }).toArray()) as Document[];
    expect(capped?.options).toMatchObject({ capped: true });
    // Types survive exactly (dbHash above proves it too): an integral double stays a double.
    const every = await destination.db(db).collection('orders').findOne({ _id: 'str-id' } as Document, { promoteValues: false });
    expect(every?.double).toBeInstanceOf(Double);
    expect(every?.int64).toBeInstanceOf(Long);

    const status = await runStatus(config, {}, testPorts());
    expect(status.progress?.phase).toBe('tailing');
    expect(status.progress?.history.map((h) => h.phase)).toEqual(['created', 'syncing', 'syncing', 'tailing']);
    expect(status.progress?.oplogHeadroomSeconds).toBeGreaterThanOrEqual(0);
  });
});
