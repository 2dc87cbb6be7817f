import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { NamespaceFilter } from '../../src/namespaces.js';
import { verifyMigration } from '../../src/engine/verify/verify.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { elementValue, indexKeys, storedOrderText, syncThenTailWhile } from '../support/engine.js';

/**
 * Field order in catalog metadata is part of its meaning: `{x: 1, "2024": 1}` and `{"2024": 1, x: 1}` are two
 * indexes, and a view's `$sort` or `$addFields` order decides what it returns. A JS object lists integer-like names
 * first, so metadata read into one and sent back changed. These run a copy and a tail (create, collMod, a new
 * index and a new view while tailing) and compare the stored bytes; then verification must see a reordered key.
 */
describe('field order of index keys and view pipelines', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('order');
  const sortedView = (field: string): Document[] => [{ $sort: new Map<string, unknown>([['name', 1], [field, -1]]) }, { $addFields: new Map<string, unknown>([['z', 1], ['3', 2]]) }];

  beforeAll(async () => {
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(sharedClusters().destinationUri);
    const items = source.db(db).collection<Document>('items');
    await items.insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i, x: i % 7, name: `n${i}`, 2024: i % 3, 7: i })));
    // Maps: a JS object literal would itself put "2024" first.
    await items.createIndex(new Map<string, 1 | -1>([['x', 1], ['2024', 1]]) as unknown as Document, { name: 'x_2024' });
    await items.createIndex(new Map<string, 1 | -1>([['name', -1], ['7', 1]]) as unknown as Document, { name: 'name_7', unique: true });
    await source.db(db).createCollection('copied_view', { viewOn: 'items', pipeline: sortedView('2024') });
  });

  afterAll(async () => {
    await Promise.all([source?.close(), destination?.close()]);
  });

  async function viewPipeline(client: MongoClient, name: string): Promise<string> {
    const reply = await client.db(db).command({ listCollections: 1, filter: { name } }, { fieldsAsRaw: { firstBatch: true } } as Document);
    const [info] = (reply.cursor as { firstBatch: Buffer[] }).firstBatch;
    return storedOrderText(elementValue(elementValue(info!, 'options')!, 'pipeline')!);
  }

  it('copies and tails them in stored order, and verification tells a reordered key apart', { timeout: 120_000 }, async () => {
    await syncThenTailWhile(db, 'order', async () => {
      await source.db(db).collection('items').createIndex(new Map<string, 1 | -1>([['name', 1], ['9', -1]]) as unknown as Document, { name: 'name_9' });
      await source.db(db).createCollection('tailed_view', { viewOn: 'items', pipeline: sortedView('7') });
      await source.db(db).command({ collMod: 'copied_view', viewOn: 'items', pipeline: sortedView('7') });
    });

    const keys = await indexKeys(source, db, 'items');
    expect(keys).toContain('x_2024:{"x":{"$numberInt":"1"},"2024":{"$numberInt":"1"}}');
    expect(keys).toContain('name_9:{"name":{"$numberInt":"1"},"9":{"$numberInt":"-1"}}');
    expect(await indexKeys(destination, db, 'items')).toEqual(keys);
    for (const view of ['copied_view', 'tailed_view']) {
      const pipeline = await viewPipeline(source, view);
      expect(pipeline).toContain('"$sort":{"name":{"$numberInt":"1"},"7":{"$numberInt":"-1"}}');
      expect(await viewPipeline(destination, view), view).toBe(pipeline);
    }
    const filter = new NamespaceFilter({ include: [`${db}.*`], exclude: [], rename: {} });
    const equal = await verifyMigration(source, destination, filter, { mode: 'count', exact: false });
    expect(equal.mismatches, 'verified equal').toEqual([]);

    // The same index name with its key reordered, as the bug above created it: verification names it.
    await destination.db(db).collection('items').dropIndex('x_2024');
    await destination.db(db).collection('items').createIndex(new Map<string, 1 | -1>([['2024', 1], ['x', 1]]) as unknown as Document, { name: 'x_2024' });
    const reordered = await verifyMigration(source, destination, filter, { mode: 'count', exact: false });
    expect(reordered.mismatches.map((m) => m.detail).join('\n'), 'the reordered key is reported').toMatch(/index x_2024 differs: key/);
  });
});
