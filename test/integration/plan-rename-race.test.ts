import { afterEach, describe, expect, it } from 'vitest';
import { MongoClient, ObjectId, type Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { setPausePoint } from '../../src/engine/failpoints.js';
import { readCatalog } from '../../src/engine/catalog.js';
import { NamespaceFilter } from '../../src/namespaces.js';
import { sharedClusters, uniqueName, useOwnSource } from '../support/clusters.js';
import { dbHashes, recordingPorts, testConfig } from '../support/engine.js';

/**
 * A rename the copy's plan already shows, but the change stream does not yet: the catalog reads what the
 * source's primary has applied, the stream hands out only what a majority holds. Here the source's secondary is
 * held (fsyncLock) while a collection is renamed away and another created under its name, then the plan is
 * read. A plan checked against the stream only "until idle" takes both names as they stand and replay applies
 * the rename again onto them: "target namespace exists", or with dropTarget, one collection's documents under
 * the other's name. The check reads the stream up to the majority point and the primary's oplog past it.
 * Then: a name reused between the copy's lookup of its collection and its first read; the swap (one collection
 * renamed away, another renamed into its name) between that lookup and the reading of its _id classes for its
 * partitions (each collection's partitions came from the other's classes, or from none); a collection renamed
 * between the catalog's listing and the reading of its details (left out of the catalog); and a collection dropped on
 * the primary alone while others are copied, which the copy must not take as gone before a majority holds the drop.
 */
describe('a rename that commits on the primary while the copy is planned', () => {
  // Its own two-member source: holding its secondary stops the majority for everything on it.
  const own = useOwnSource({ name: 'plan-race', members: 2 });
  let secondary: MongoClient | undefined;
  afterEach(async () => {
    setPausePoint('plan-catalog', undefined);
    setPausePoint('copy:partition', undefined);
    setPausePoint('copy:plan-partitions', undefined);
    setPausePoint('catalog:details', undefined);
    await secondary?.db('admin').command({ fsyncUnlock: 1 }).catch(() => undefined);
    await secondary?.close();
    secondary = undefined;
  });

  const cases = [
    { dropTarget: false, majority: false },
    { dropTarget: true, majority: false },
    // Majority-committed before the catalog read: the change stream shows it.
    { dropTarget: true, majority: true },
  ];
  for (const { dropTarget, majority } of cases) {
    it(`is planned again from a later capture point; replay then applies nothing twice (dropTarget: ${dropTarget}, ${majority ? 'majority-committed' : 'on the primary alone'})`, { timeout: 120_000 }, async () => {
      const { cluster, source, destination } = own;
      const db = uniqueName('race');
      const sdb = source.db(db);
      await sdb.createCollection('live');
      await sdb.collection<Document>('live').insertMany(Array.from({ length: 500 }, (_, i): Document => ({ _id: i, from: 'original' })));
      if (dropTarget) {
        await sdb.createCollection('old');
        await sdb.collection<Document>('old').insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i, from: 'older' })));
      }
      const held = await holdable();
      let released: Promise<unknown> | undefined;
      setPausePoint('plan-catalog', async () => {
        setPausePoint('plan-catalog', undefined); // once: the first plan only
        if (!majority) await held.db('admin').command({ fsync: 1, lock: true });
        // Held: applied on the primary (w: 1), not majority-committed: the catalog sees it, the stream does not.
        const writeConcern = majority ? { w: 'majority' } : { w: 1 };
        await source.db('admin').command({ renameCollection: `${db}.live`, to: `${db}.old`, dropTarget, writeConcern });
        await sdb.command({ create: 'live', writeConcern });
        await sdb.command({ insert: 'live', documents: Array.from({ length: 20 }, (_, i) => ({ _id: i, from: 'replacement' })), writeConcern });
        released = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          if (!majority) await held.db('admin').command({ fsyncUnlock: 1 });
        })();
      });
      const config = testConfig(uniqueName('race').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db]);
      const recorder = recordingPorts('plan-race');
      const sync = await runSync(config, {}, recorder.ports);
      await released;
      expect(sync.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
      expect(await destination.db(db).collection('old').countDocuments({ from: 'original' })).toBe(500);
      expect(await destination.db(db).collection('live').countDocuments({ from: 'replacement' })).toBe(20);
      expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
      expect(recorder.lines().some((line) => line.includes('on the source while planning the copy'))).toBe(true);
    });
  }

  it('a drop on the primary alone while the copy is planned: planned again once a majority holds it', { timeout: 120_000 }, async () => {
    const { cluster, source, destination } = own;
    const db = uniqueName('plandrop');
    const sdb = source.db(db);
    await seed(db, ['kept', 'gone'], 200);
    const held = await holdable();
    let released: Promise<unknown> | undefined;
    setPausePoint('plan-catalog', async () => {
      setPausePoint('plan-catalog', undefined);
      await held.db('admin').command({ fsync: 1, lock: true });
      // Until a majority holds it, a failover could bring `gone` back: a plan without it would never copy it.
      await sdb.command({ drop: 'gone', writeConcern: { w: 1 } });
      released = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await held.db('admin').command({ fsyncUnlock: 1 });
      })();
    });
    const config = testConfig(uniqueName('plandrop').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db]);
    const recorder = recordingPorts('plan-drop');
    const sync = await runSync(config, {}, recorder.ports);
    await released;
    expect(sync.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
    expect(recorder.lines().some((line) => line.includes('on the source while planning the copy'))).toBe(true);
    expect((await destination.db(db).listCollections().toArray()).map((c) => c.name)).toEqual(['kept']);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });

  it('the copy reads the collection it planned, not one created under its name since', { timeout: 120_000 }, async () => {
    const { cluster, source, destination } = own;
    const db = uniqueName('reuse');
    const sdb = source.db(db);
    await sdb.createCollection('x');
    await sdb.collection<Document>('x').insertMany(Array.from({ length: 300 }, (_, i): Document => ({ _id: i, from: 'planned' })));
    setPausePoint('copy:partition', async () => {
      setPausePoint('copy:partition', undefined);
      // Between the plan (and where the copy looked the collection up) and its first read.
      await source.db('admin').command({ renameCollection: `${db}.x`, to: `${db}.y` });
      await sdb.collection<Document>('x').insertMany(Array.from({ length: 30 }, (_, i): Document => ({ _id: i, from: 'newcomer' })));
    });
    const config = testConfig(uniqueName('reuse').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db]);
    const recorder = recordingPorts('name-reuse');
    const sync = await runSync(config, {}, recorder.ports);
    expect(sync.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
    expect(await destination.db(db).collection('y').countDocuments({ from: 'planned' })).toBe(300);
    expect(await destination.db(db).collection('x').countDocuments({ from: 'newcomer' })).toBe(30);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });

  it('partitions are planned from the collection located, not one that took its name since (the swap)', { timeout: 120_000 }, async () => {
    const { cluster, source, destination } = own;
    const db = uniqueName('swapplan');
    const sdb = source.db(db);
    // Two _id classes in `live` (numbers, strings), one in `next` (ObjectIds): the classes are what a partition plan reads.
    await sdb.collection<Document>('live').insertMany([...Array.from({ length: 300 }, (_, i): Document => ({ _id: i, from: 'live' })), ...Array.from({ length: 5 }, (_, i): Document => ({ _id: `s${i}`, from: 'live' }))]);
    await sdb.collection<Document>('next').insertMany(Array.from({ length: 200 }, (): Document => ({ _id: new ObjectId(), from: 'next' })));
    let swapped = false;
    setPausePoint('copy:plan-partitions', async () => {
      setPausePoint('copy:plan-partitions', undefined);
      // After the copy located both collections (by UUID), before it reads the first one's _id classes.
      await source.db('admin').command({ renameCollection: `${db}.live`, to: `${db}.live_old` });
      await source.db('admin').command({ renameCollection: `${db}.next`, to: `${db}.live` });
      swapped = true;
    });
    const config = testConfig(uniqueName('swapplan').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db]);
    const recorder = recordingPorts('swap-plan');
    const sync = await runSync(config, {}, recorder.ports);
    expect(swapped).toBe(true);
    expect(sync.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
    expect(await destination.db(db).collection('live_old').countDocuments({ from: 'live' })).toBe(305);
    expect(await destination.db(db).collection('live').countDocuments({ from: 'next' })).toBe(200);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });

  it('a collection renamed between the listing and the reading of its details is listed under its new name, not left out', { timeout: 60_000 }, async () => {
    const { source } = own;
    const db = uniqueName('catrace');
    const sdb = source.db(db);
    await sdb.collection<Document>('a').insertMany(Array.from({ length: 10 }, (_, i): Document => ({ _id: i })));
    await sdb.collection<Document>('b').createIndex({ v: 1 });
    const [uuidOfA] = (await sdb.listCollections({ name: 'a' }, { nameOnly: false }).toArray()).map((c) => (c as { info: { uuid: { toString(f: 'hex'): string } } }).info.uuid.toString('hex'));
    setPausePoint('catalog:details', async () => {
      setPausePoint('catalog:details', undefined);
      // `a` listed, its details not read yet: renamed to a name the listing did not have (it would have been
      // left out, and a copy locating its planned collections by UUID would have taken it for gone).
      await source.db('admin').command({ renameCollection: `${db}.a`, to: `${db}.c` });
    });
    const catalog = await readCatalog(source, new NamespaceFilter({ include: [`${db}.*`], exclude: [], rename: {} }));
    expect(catalog.map((c) => [c.coll, c.documents, c.indexes.map((i) => i.name).sort().join()])).toEqual([
      ['b', 0, '_id_,v_1'],
      ['c', 10, '_id_'],
    ]);
    expect(catalog.find((c) => c.coll === 'c')?.uuid).toBe(uuidOfA);
  });

  it('a collection dropped on the primary alone is not taken as gone until a majority holds the drop', { timeout: 120_000 }, async () => {
    const { cluster, source, destination } = own;
    const db = uniqueName('dropwait');
    const sdb = source.db(db);
    await seed(db, ['a', 'b'], 300);
    const held = await holdable();
    // While `a` is copied (one collection at a time), `b` is dropped on the primary alone: a failover now would
    // bring it back, with nothing of it copied and no drop to replay.
    setPausePoint('copy:partition', async () => {
      setPausePoint('copy:partition', undefined);
      await held.db('admin').command({ fsync: 1, lock: true });
      await sdb.command({ drop: 'b', writeConcern: { w: 1 } });
    });
    const name = uniqueName('dropwait').replace(/_/g, '-');
    const config = testConfig(name, cluster.uri, sharedClusters().destinationUri, [db], 'sync: { parallelCollections: 1 }\n');
    const recorder = recordingPorts('drop-wait');
    const sync = runSync(config, {}, recorder.ports);
    const waiting = (): boolean => recorder.lines().some((line) => line.includes('waiting until a majority of the source holds the removal'));
    for (const until = Date.now() + 60_000; !waiting() && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(waiting(), recorder.lines().slice(-20).join('\n')).toBe(true);
    const partitions = destination.db('__mongo_live_migrate').collection<{ source: string; done: boolean }>('partitions');
    expect(await partitions.countDocuments({ migration: name, source: `${db}.b`, done: true })).toBe(0);
    await held.db('admin').command({ fsyncUnlock: 1 });
    const result = await sync;
    expect(result.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
    expect(await partitions.countDocuments({ migration: name, source: `${db}.b`, done: false })).toBe(0);
    expect((await destination.db(db).listCollections().toArray()).map((c) => c.name).sort()).toEqual(['a']);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });
  /** A direct client to the source's secondary, to hold it with fsyncLock (released after each test). */
  async function holdable(): Promise<MongoClient> {
    secondary = await MongoClient.connect(`mongodb://127.0.0.1:${own.cluster.members[1]!.port}/?directConnection=true`);
    return secondary;
  }

  /** These collections in `db` on the source, `count` documents each. */
  async function seed(db: string, names: string[], count: number): Promise<void> {
    for (const coll of names) {
      await own.source.db(db).createCollection(coll);
      await own.source.db(db).collection<Document>(coll).insertMany(Array.from({ length: count }, (_, i): Document => ({ _id: i, coll })));
    }
  }
});
