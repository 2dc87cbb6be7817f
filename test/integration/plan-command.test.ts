import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { plan } from '../../src/commands/plan.js';
import { parseConfig } from '../../src/config/index.js';
import { OperationError } from '../../src/errors.js';
import { freePort } from '../../src/local/replica-set.js';
import { renderPlanMarkdown } from '../../src/report/checks-render.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';

describe('plan against real replica sets', () => {
  let src: MongoClient;
  let dst: MongoClient;
  const db = uniqueName('plan');
  const dstDb = uniqueName('plandst');
  const config = (drop = false, dstUri = sharedClusters().destinationUri) =>
    parseConfig(
      ['version: 1', 'name: plan-test', 'source: { uri: "${SRC}" }', 'destination: { uri: "${DST}" }', 'namespaces:', `  include: ["${db}.*"]`, `  rename: { "${db}.orders": "${dstDb}.orders" }`, `sync: { dropDestination: ${drop} }`].join('\n'),
      'migration.yaml',
      { env: { SRC: sharedClusters().sourceUri, DST: dstUri } },
    );

  beforeAll(async () => {
    src = await connect(sharedClusters().sourceUri);
    dst = await connect(sharedClusters().destinationUri);
    await src.db(db).createCollection('orders');
    await src.db(db).collection('orders').insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: i as never, pad: 'x'.repeat(500) })));
    await src.db(db).collection('orders').createIndex({ pad: 1 }, { name: 'pad_1' });
    await src.db(db).createCollection('audit', { capped: true, size: 1 << 20 });
    await src.db(db).createCollection('recent', { viewOn: 'orders', pipeline: [] });
    await src.db(db).createCollection('metrics', { timeseries: { timeField: 't' } });
  });

  afterAll(async () => {
    await Promise.all([src.db(db).dropDatabase(), dst.db(dstDb).dropDatabase()].map((p) => p.catch(() => undefined)));
    await Promise.all([src.close(), dst.close()]);
  });

  it('lists each namespace with sizes, indexes and action, totals, a measured estimate and the oplog window', async () => {
    const outcome = await plan(config());
    expect(outcome.exitCode).toBe(0);
    const p = outcome.plan!;
    const orders = p.entries.find((e) => e.source === `${db}.orders`)!;
    expect(orders).toMatchObject({ target: `${dstDb}.orders`, kind: 'collection', documents: 2000, action: 'create' });
    expect(orders.dataBytes).toBeGreaterThan(1_000_000);
    expect(orders.indexes.sort()).toEqual(['_id_', 'pad_1']);
    expect(p.entries.find((e) => e.source === `${db}.audit`)!.kind).toBe('capped');
    expect(p.entries.find((e) => e.source === `${db}.recent`)!.kind).toBe('view');
    expect(p.entries.find((e) => e.source === `${db}.metrics`)).toMatchObject({ kind: 'timeseries', action: 'skip' });
    expect(p.totals).toMatchObject({ collections: 2, views: 1, documents: 2000, indexes: 3 });
    expect(p.estimate.seconds).toBeGreaterThanOrEqual(1);
    expect(p.estimate.method).toMatch(/read probe: 2,000 documents .* of plan_\w+\.orders in [\d.]+ s on one cursor/);
    expect(p.oplogWindowSeconds).toBeGreaterThan(0);
    expect(outcome.summary).toMatch(/1 unsupported namespace skipped/);
    expect(renderPlanMarkdown(p)).toContain(`<details><summary><code>${db}</code>: 4 namespaces</summary>`);
  });

  it('shows a conflict, then drop-and-recreate with dropDestination', async () => {
    await dst.db(dstDb).createCollection('orders');
    await dst.db(dstDb).collection('orders').insertOne({ stale: true });
    expect((await plan(config())).plan!.entries.find((e) => e.source === `${db}.orders`)!.action).toBe('conflict');
    expect((await plan(config(true))).plan!.entries.find((e) => e.source === `${db}.orders`)!.action).toBe('drop-and-recreate');
    await dst.db(dstDb).collection('orders').drop();
  });

  it('an unreachable destination is an OperationError with a remedy, not a stack', async () => {
    const port = await freePort();
    await expect(plan(config(false, `mongodb://127.0.0.1:${port}/?directConnection=true`), { connectTimeoutMs: 2000 })).rejects.toThrow(OperationError);
  });
});
