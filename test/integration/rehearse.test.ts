import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Int32, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { runRehearse } from '../../src/commands/rehearse.js';
import { runSync } from '../../src/commands/sync.js';
import { closeRun, compareAtSnapshot, openRun, tailLoop } from '../../src/engine/index.js';
import { STATE_DB } from '../../src/namespaces.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { testConfig, testPorts, Writer } from '../support/engine.js';

describe('rehearse against a staging destination', () => {
  let source: MongoClient;
  let destination: MongoClient;
  let writer: Writer | undefined;
  const db = uniqueName('rehearse');

  beforeAll(async () => {
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(sharedClusters().destinationUri);
    await source.db(db).createCollection('items');
    await source.db(db).createCollection('w');
    await source.db(db).collection<{ _id: number; name: string; price: number }>('items').insertMany(Array.from({ length: 3000 }, (_, i) => ({ _id: i, name: `item ${i}`, price: i * 1.5 })));
    await source.db(db).collection('items').createIndex({ name: 1 }, { unique: true });
  });
  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await source?.close();
    await destination?.close();
  });

  it('freezes at a source time under live writes, proves the destination equals the source as of then, reports timings, cleans up', async () => {
    const config = testConfig(uniqueName('reh').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db]);
    writer = new Writer(sharedClusters().sourceUri, db, ['items', 'w'], { idSpace: 200 });
    writer.start(2);
    const outcome = await runRehearse(config, { maxDurationMs: 3000 }, testPorts());
    await writer.stop();
    expect(outcome.exitCode, outcome.summary).toBe(0);
    expect(outcome.verification?.exact).toBe(true);
    expect(outcome.verification?.collections.map((c) => c.source).sort()).toEqual([`${db}.items`, `${db}.w`]);
    expect(outcome.verification?.collections.every((c) => c.equal && c.method.includes('snapshot'))).toBe(true);
    expect(outcome.summary).toMatch(/copy\s+\d/);
    expect(outcome.summary).toMatch(/predicted downtime \d+\.\d s/);
    // The cutover pipeline's own steps ran at the frozen point: the ones a write block would cover are marked.
    expect(outcome.summary).toMatch(/drain .*\[inside the write block\]/);
    expect(outcome.summary).toMatch(/verify:recheck .*\[inside the write block\]/);
    expect(outcome.summary).not.toMatch(/finalize-indexes .*\[inside/);
    expect(outcome.summary).toContain('cleaned up');
    // Nothing of the rehearsal is left on the staging destination, and the source was never blocked.
    expect((await destination.db(db).listCollections().toArray()).length).toBe(0);
    expect(await destination.db(STATE_DB).collection('migrations').findOne({ _id: config.name as never })).toBeNull();
    await source.db(db).collection('w').insertOne({ afterRehearsal: true });
  });

  it('a tail stopped at a frozen time applies the source as of that time, whatever is written after it', async () => {
    // The rehearsal's drain stops at T while the source goes on: a document read "now" would carry writes made
    // after T (and a document deleted after T would read as missing), which no snapshot at T shows.
    const frozenDb = uniqueName('frozen');
    const coll = source.db(frozenDb).collection<{ _id: number; v: string; i?: number }>('docs');
    await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, v: 'copied' })));
    const config = testConfig(uniqueName('frz').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [frozenDb]);
    expect((await runSync(config, {}, testPorts())).exitCode).toBe(0);

    const session = source.startSession();
    let frozenAt: Timestamp;
    try {
      for (let i = 0; i < 20; i++) await coll.updateOne({ _id: i }, { $set: { v: 'as of T', i } }, { session });
      frozenAt = session.operationTime!;
    } finally {
      await session.endSession();
    }
    for (let i = 0; i < 10; i++) await coll.updateOne({ _id: i }, { $set: { v: 'after T' } });
    await coll.deleteMany({ _id: { $gte: 10 } });

    const run = await openRun(config, testPorts());
    try {
      await tailLoop(run, { deadline: Date.now() + 60_000, untilDrained: true, stopAfter: frozenAt });
      const report = await compareAtSnapshot(run.source, run.destination, run.doc.collections, frozenAt);
      expect(report.mismatches).toEqual([]);
      expect(await destination.db(frozenDb).collection('docs').countDocuments({ v: 'as of T' })).toBe(20);
    } finally {
      await closeRun(run);
    }
  });

  it('compares documents as stored: a field order a JS object would change back is a difference; time-series measurements in other buckets are equal', async () => {
    const cmp = uniqueName('rehearse_bytes');
    // {"10": 1, "9": 2} and {"9": 2, "10": 1}: decoded into JS objects, both become {"9": 2, "10": 1} and were called equal.
    const fields = (order: string[]): Map<string, unknown> => new Map(order.map((k) => [k, new Int32(Number(k))]));
    await source.db(cmp).collection('k').insertMany([{ _id: 1, a: fields(['10', '9']) }, { _id: 2, a: fields(['10', '9']) }] as unknown as Document[]);
    await destination.db(cmp).collection('k').insertMany([{ _id: 1, a: fields(['9', '10']) }, { _id: 2, a: fields(['10', '9']) }] as unknown as Document[]);
    const measurements = Array.from({ length: 30 }, (_, i) => ({ _id: i, at: new Date(Date.UTC(2026, 0, 1, 0, i)), meta: { sensor: i % 3 }, v: new Int32(i) }));
    for (const [side, order] of [[source, measurements], [destination, [...measurements].reverse()]] as const) {
      await side.db(cmp).createCollection('ts', { timeseries: { timeField: 'at', metaField: 'meta' } });
      for (const m of order) await side.db(cmp).collection('ts').insertOne({ ...m } as Document);
    }
    const session = source.startSession();
    let at: Timestamp;
    try {
      await source.db(cmp).collection('k').findOne({}, { session });
      at = session.operationTime!;
    } finally {
      await session.endSession();
    }
    const plan = (coll: string, kind: 'collection' | 'timeseries') => ({ source: `${cmp}.${coll}`, target: `${cmp}.${coll}`, kind, documentsTotal: 0, bytesTotal: 0, created: true, indexesBuilt: true });
    const report = await compareAtSnapshot(source, destination, [plan('k', 'collection'), plan('ts', 'timeseries')], at);
    expect(report.collections.map((c) => [c.source, c.equal, c.sourceCount, c.targetCount])).toEqual([
      [`${cmp}.k`, false, 2, 2],
      [`${cmp}.ts`, true, 30, 30],
    ]);
    expect(report.exact).toBe(true);
  });
});
