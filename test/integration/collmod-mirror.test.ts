import { beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { NamespaceFilter } from '../../src/namespaces.js';
import { verifyMigration } from '../../src/engine/verify/verify.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';
import { syncThenTailWhile } from '../support/engine.js';

/**
 * collMod as teams run it on a live source: an index hidden by name and another by key pattern (the usual step
 * before dropping one), a TTL changed, a validator set. Each reaches the destination while the tail runs; the TTL
 * lands on the recorded original (the destination keeps the relaxed one until the cutover).
 */
describe('collMod mirrored during tail', () => {
  const clients = useSharedClients();
  const db = uniqueName('collmod');

  beforeAll(async () => {
    const items = clients.source.db(db).collection<Document>('items');
    await items.insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: i, x: i, y: i % 5, at: new Date(), n: i })));
    await items.createIndex({ x: 1 }, { name: 'x_1' });
    await items.createIndex({ y: 1 }, { name: 'y_1' });
    await items.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: 3600 });
  });

  const spec = async (client: MongoClient, name: string): Promise<Document | undefined> => (await client.db(db).collection('items').listIndexes().toArray()).find((i) => i.name === name);

  it('hides indexes by name and by key, changes a TTL and sets a validator, as the source did', { timeout: 120_000 }, async () => {
    const { source, destination } = clients;
    const sdb = source.db(db);
    const config = await syncThenTailWhile(db, 'collmod', async () => {
      await sdb.command({ collMod: 'items', index: { name: 'x_1', hidden: true } });
      await sdb.command({ collMod: 'items', index: { keyPattern: { y: 1 }, hidden: true } });
      await sdb.command({ collMod: 'items', index: { name: 'at_ttl', expireAfterSeconds: 7200 } });
      await sdb.command({ collMod: 'items', validator: { n: { $type: 'number' } }, validationLevel: 'moderate' });
      await sdb.collection<Document>('items').insertOne({ _id: 'after', n: 1 } as Document);
    });

    expect(await spec(destination, 'x_1')).toMatchObject({ hidden: true });
    expect(await spec(destination, 'y_1')).toMatchObject({ hidden: true });
    const relaxed = await destination.db('__mongo_live_migrate').collection('relaxed_indexes').findOne({ migration: config.name, name: 'at_ttl' });
    expect(relaxed?.original).toMatchObject({ expireAfterSeconds: 7200 });
    const [info] = await destination.db(db).listCollections({ name: 'items' }).toArray();
    expect((info as { options?: Document }).options).toMatchObject({ validator: { n: { $type: 'number' } }, validationLevel: 'moderate' });
    const filter = new NamespaceFilter({ include: [`${db}.*`], exclude: [], rename: {} });
    const report = await verifyMigration(source, destination, filter, { mode: 'count', exact: false, relaxedIndexes: [{ target: `${db}.items`, name: 'at_ttl' }] });
    expect(report.mismatches).toEqual([]);
  });
});
