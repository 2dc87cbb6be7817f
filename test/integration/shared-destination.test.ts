import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { runCutover } from '../../src/commands/cutover.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { runVerify } from '../../src/commands/verify.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';

/**
 * Two migrations write into one destination database (each source database renamed onto it), and the new
 * application already keeps a collection there. Each migration's verification judges what it owns — the
 * targets of its source namespaces and what it created — so both verify equal and both cut over; a collection
 * the migration created whose source is gone is still an extra namespace.
 */
describe('several migrations share one destination database', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const a = uniqueName('shareA');
  const b = uniqueName('shareB');
  const target = uniqueName('shared');

  beforeAll(async () => {
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(sharedClusters().destinationUri);
    for (const [db, coll, n] of [[a, 'orders', 100], [a, 'gone', 10], [b, 'users', 50]] as const) {
      await source.db(db).createCollection(coll);
      await source.db(db).collection<Document>(coll).insertMany(Array.from({ length: n }, (_, i): Document => ({ _id: i, db, coll })));
    }
    await source.db(a).createCollection('big_orders', { viewOn: 'orders', pipeline: [{ $match: { _id: { $gte: 50 } } }] });
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
  });

  it('verifies and cuts over each migration without counting the other one, and still reports its own leftovers', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const extra = (db: string) => `  rename: { "${db}": "${target}" }\ncutover: { writeBlock: none, lagHoldSeconds: 0, verify: hash, maxLagSeconds: 30 }\n`;
    const first = testConfig(uniqueName('share1').replace(/_/g, '-'), sourceUri, destinationUri, [a], extra(a));
    const second = testConfig(uniqueName('share2').replace(/_/g, '-'), sourceUri, destinationUri, [b], extra(b));
    expect((await runSync(first, {}, testPorts('share-1'))).exitCode).toBe(0);
    expect((await runSync(second, {}, testPorts('share-2'))).exitCode).toBe(0);
    // The new application already lives in that database too.
    await destination.db(target).collection('app_sessions').insertOne({ _id: 'app' } as Document);

    const one = await runVerify(first, {}, testPorts('share-verify-1'));
    expect(one.verification?.mismatches, one.summary).toEqual([]);
    expect(one.exitCode).toBe(0);
    expect(one.verification?.collections.map((c) => c.target).sort()).toEqual([`${target}.big_orders`, `${target}.gone`, `${target}.orders`]);
    expect(one.verification?.notes).toContain('2 other namespaces in the target databases are not this migration\'s (another migration\'s or an application\'s) and were not judged');
    const two = await runVerify(second, {}, testPorts('share-verify-2'));
    expect(two.verification?.mismatches, two.summary).toEqual([]);

    // A collection the first migration created, whose source is gone (no tail mirrored the drop yet): extra.
    await source.db(a).collection('gone').drop();
    const leftover = await runVerify(first, {}, testPorts('share-verify-1'));
    expect(leftover.exitCode).toBe(1);
    expect(leftover.verification?.mismatches).toEqual([expect.objectContaining({ kind: 'extra-collection', namespace: `${target}.gone` })]);

    // Both commit, one after the other, into the shared database.
    expect((await runTail(first, { maxDurationMs: 1500 }, testPorts('share-1'))).exitCode).toBe(0);
    const cut1 = await runCutover(first, { confirm: first.name, applicationsStopped: true }, testPorts('share-1'));
    expect(cut1.exitCode, cut1.summary).toBe(0);
    expect(cut1.verification?.mismatches).toEqual([]);
    const cut2 = await runCutover(second, { confirm: second.name, applicationsStopped: true }, testPorts('share-2'));
    expect(cut2.exitCode, cut2.summary).toBe(0);
    expect(cut2.verification?.mismatches).toEqual([]);
    expect(await destination.db(target).collection('app_sessions').countDocuments()).toBe(1);

    // The first source database disappears: what the first migration created is all extra (the view
    // included), never the second migration's or the application's collections.
    await source.db(a).dropDatabase();
    const gone = await runVerify(first, {}, testPorts('share-verify-1'));
    expect(gone.verification?.mismatches.map((m) => `${m.kind} ${m.namespace}`).sort()).toEqual([`extra-collection ${target}.big_orders`, `extra-collection ${target}.orders`]);
  });
});
