import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { tokenTime } from '../../src/engine/position.js';
import { StateStore } from '../../src/engine/state/store.js';
import { DestinationWatch } from '../../src/engine/verify/continuous/destination-watch.js';
import { ComparisonFrontier } from '../../src/engine/verify/continuous/frontier.js';
import { planVerifyPartitions } from '../../src/engine/verify/continuous/partition-compare.js';
import { RecheckQueue } from '../../src/engine/verify/continuous/recheck-queue.js';
import { bytesOf } from '../../src/mongo/raw-bson.js';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { OperationError } from '../../src/errors.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { runRunner, StateWatch, writeMigrationFile } from '../support/runner-process.js';

/**
 * The saved position falls off the source oplog for real: a source with the smallest oplog MongoDB allows
 * (990 MB) is rolled over by ~1.1 GB of writes to a collection the migration does not include, with a short
 * checkpoint interval so that the oplog is truncated at once (truncation waits for a checkpoint). Then tail
 * must refuse with the reason and the remedy, mark the migration resyncRequired, apply nothing past the gap,
 * and status, a second tail and sync must all say so.
 */
describe('oplog roll-over past the saved position', () => {
  let cluster: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('lost');
  const db2 = uniqueName('stalled');
  let watchToken: Document;

  beforeAll(async () => {
    cluster = await startOwnCluster({ name: 'oplog-small', oplogSizeMB: 990, args: ['--syncdelay', '1'] });
    source = await connect(cluster.uri);
    destination = await connect(sharedClusters().destinationUri);
    await source.db(db).createCollection('c');
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 1000 }, (_, i): Document => ({ _id: i, v: i })));
    await source.db('filler').createCollection('big', { capped: true, size: 64 * 1024 * 1024 });
    await source.db(db2).createCollection('c');
    await source.db(db2).collection<Document>('c').insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: i })));
    // A position of this cluster's own change stream from before the roll-over, for the destination watch below.
    const probe = source.watch([], { maxAwaitTimeMS: 10 });
    await probe.tryNext();
    watchToken = probe.resumeToken as Document;
    await probe.close();
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
    await cluster?.stop();
  });

  it('tail refuses with "re-sync required", marks the state, and applies nothing past the gap', async () => {
    const config = testConfig(uniqueName('lost').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5 }\n');
    const sync = await runSync(config, {}, testPorts('oplog-sync'));
    expect(sync.exitCode).toBe(0);
    expect(sync.progress?.phase).toBe('tailing');
    const saved = (await new StateWatch(destination, config.name).doc())!.applied;
    expect(saved?.token ?? saved?.operationTime).toBeDefined();

    // A second migration whose sync stopped before copying: its capture point will roll off too.
    const stalled = testConfig(uniqueName('stalled').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db2]);
    const stop = new AbortController();
    stop.abort();
    expect((await runSync(stalled, {}, testPorts('stalled-1', stop.signal))).continue).toBe(true);

    // Changes after the saved position that no tail reads before the oplog rolls over.
    await source.db(db).collection<Document>('c').insertOne({ _id: 'in-the-gap' } as Document);
    await source.db(db).collection<Document>('c').updateOne({ _id: 0 } as Document, { $set: { v: 'changed in the gap' } });
    const gapTime = ((await source.db('admin').command({ hello: 1 })).lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;

    const t0 = Date.now();
    const pad = 'z'.repeat(1024 * 1024 - 200);
    let written = 0;
    for (;;) {
      for (let i = 0; i < 25; i++) {
        await source.db('filler').collection('big').insertMany(Array.from({ length: 8 }, () => ({ pad })), { writeConcern: { w: 1 } });
        written += 8;
      }
      const first = await source.db('local').collection('oplog.rs').find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next();
      if ((first!.ts as Timestamp).greaterThan(gapTime)) break;
      if (Date.now() - t0 > 90_000) throw new Error(`the oplog did not roll over after ${written} MB in ${Date.now() - t0} ms`);
      if (written > 1000) await source.db('admin').command({ fsync: 1 });
      await sleep(10);
    }
    console.log(`[oplog-loss] oplog rolled over past the saved position after ${written} MB in ${Date.now() - t0} ms`);
    await source.db(db).collection<Document>('c').insertOne({ _id: 'after-the-gap' } as Document);

    // Before any tail notices, status already says the migration is not ready, and why (no stale "ready").
    const unnoticed = await runStatus(config, {}, testPorts('oplog-status-before'));
    expect(unnoticed.progress?.readyForCutover).toBe(false);
    expect(unnoticed.continue).toBe(true);
    expect(unnoticed.progress?.oplogHeadroomSeconds).toBe(0);
    expect(unnoticed.summary).toMatch(/not ready: .*the saved position \(.*\) is no longer in the source oplog/);

    const refusal = runTail(config, { maxDurationMs: 10_000 }, testPorts('oplog-tail'));
    await expect(refusal).rejects.toBeInstanceOf(OperationError);
    await expect(refusal).rejects.toThrow(/is no longer in the source oplog: changes in between are gone/);
    await refusal.catch((error: OperationError) => expect(error.hint).toMatch(/re-sync: run `abort --drop-destination --confirm \S+` then `sync`/));

    const state = (await new StateWatch(destination, config.name).doc())!;
    expect(state.resyncRequired).toBe(true);
    expect(state.phase).toBe('failed');
    expect(state.error).toMatch(/no longer in the source oplog/);
    // Nothing was applied past the gap, not even what came after it.
    const c = destination.db(db).collection<Document>('c');
    expect(await c.findOne({ _id: 'in-the-gap' } as Document)).toBeNull();
    expect(await c.findOne({ _id: 'after-the-gap' } as Document)).toBeNull();
    expect((await c.findOne({ _id: 0 } as Document))?.v).toBe(0);
    expect(state.applied).toEqual(saved);

    const status = await runStatus(config, {}, testPorts('oplog-status'));
    expect(status.exitCode).toBe(1);
    expect(status.summary).toMatch(/failed.*error: the saved position .* is no longer in the source oplog/);
    expect(status.nextStep).toMatch(/abort .*--drop-destination, then sync again/);

    // Every later attempt says the same, through the CLI as a user sees it.
    const file = writeMigrationFile(config.name, cluster.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5 }\n');
    for (const command of ['tail', 'sync']) {
      const again = await runRunner([command, '--config', file]);
      expect(again.code, again.stdout).toBe(1);
      expect(again.stderr).toMatch(/error: the saved position of migration .* is no longer in the source oplog/);
      expect(again.stderr).toMatch(/hint: .*re-sync/);
    }
    expect(await c.findOne({ _id: 'after-the-gap' } as Document)).toBeNull();

    // The stalled sync resumes its capture from a point that is gone: refused and marked the same way.
    const resumed = runSync(stalled, {}, testPorts('stalled-2'));
    await expect(resumed).rejects.toThrow(/is no longer in the source oplog/);
    const stalledState = (await new StateWatch(destination, stalled.name).doc())!;
    expect(stalledState.resyncRequired).toBe(true);
    expect(stalledState.phase).toBe('failed');
  });

  /**
   * Continuous verification's destination watch on a cluster whose oplog rolled over past its saved place (this
   * cluster plays the destination here): it starts again at now and has every partition compared again, instead
   * of stopping verification for good (and the cutover's final check with it).
   */
  it('a destination watch whose place left the oplog starts again at now and has every partition compared again', async () => {
    const first = await source.db('local').collection('oplog.rs').find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next();
    expect((first!.ts as Timestamp).greaterThan(tokenTime(watchToken)!)).toBe(true); // rolled over by the test above
    const store = new StateStore(source, uniqueName('lostwatch'));
    const frontier = new ComparisonFrontier();
    const pair = { source: `${db}.c`, target: `${db}.c` };
    expect(await planVerifyPartitions(source, source, store, pair, frontier)).toHaveLength(2); // number and string _ids
    const watch = new DestinationWatch(source, store, new RecheckQueue(store), (target) => (target === pair.target ? pair.source : undefined), { $in: [db] }, frontier);
    await watch.open(watchToken);
    await watch.pump();
    expect(watch.historyLost).toBe(true);
    expect(await store.verifyPartitions.countDocuments({ migration: store.name })).toBe(0);
    // From now on it reads the cluster's writes again.
    await source.db(db).collection<Document>('c').insertOne({ _id: 'written-after' } as Document);
    for (let i = 0; i < 40 && (await store.recheck.countDocuments({ m: store.name })) === 0; i++) await watch.pump();
    expect((await store.recheck.find({ m: store.name }).toArray()).map((e) => BSON.deserialize(bytesOf(e.key))._id)).toEqual(['written-after']);
    await watch.close();
  });
});

