import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Int32, type Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { sharedClusters, uniqueName, useOwnSource } from '../support/clusters.js';
import { collectionDifferences, dbHashes, indexKeys, recordingPorts, tailUntilReady, testConfig, testPorts } from '../support/engine.js';
import { Writer } from '../support/writer.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * A three-member source whose primary steps down in the middle of the copy, then is killed (SIGKILL) in the
 * middle of the copy, and steps down again in the middle of a tail, with writers (retryable writes,
 * transactions) running throughout: the copy reopens its cursors from the saved lastId, the change streams
 * resume, and the destination ends equal to the source.
 */
describe('source primary steps down during copy and during tail', () => {
  const own = useOwnSource({ name: 'failover', members: 3 });
  let writer: Writer | undefined;
  const db = uniqueName('failover');

  beforeAll(async () => {
    const sdb = own.source.db(db);
    await sdb.createCollection('items');
    await sdb.createCollection('w');
    for (let i = 0; i < 50_000; i += 10_000) {
      await sdb.collection<Document>('items').insertMany(Array.from({ length: 10_000 }, (_, k): Document => ({ _id: i + k, n: new Int32((i + k) % 97), s: `item-${i + k}` })));
    }
    await sdb.collection('items').createIndex({ n: 1, s: 1 }, { name: 'n_s' });
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
  });

  // The sync's debug log, printed if the test fails: where a run through elections spent its time.
  const recorder = recordingPorts('failover-sync', 600);
  afterEach((context) => {
    if (context.task.result?.state !== 'pass') console.log(`[failover] the sync's last log lines:\n${recorder.lines().slice(-150).join('\n')}`);
  });

  // A three-member set under Wine, killed and restarted, beside the suite's other files: its sync alone took 70 s
  // in CI (112 s in all against the default 120 s), so it gets the room the other heavy tests have.
  it('completes and the sides are equal', { timeout: 180_000 }, async () => {
    const { cluster, source, destination } = own;
    const config = testConfig(uniqueName('failover').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db], 'sync: { batchSize: 100, partitionSizeMB: 1, parallelCollections: 2 }\ncutover: { maxLagSeconds: 5 }\n');
    const watch = new StateWatch(destination, config.name);
    // Writes as an application should through an election (retries what outlasts the driver's own retry).
    writer = new Writer(cluster.uri, db, ['items', 'w'], { idSpace: 300, retryTransient: true });
    writer.start(3);

    const t0 = Date.now();
    const sync = runSync(config, {}, recorder.ports);
    // Step down once a few batches are in and the copy is far from done.
    let copied = 0;
    for (;;) {
      const partitions = await watch.partitions();
      copied = partitions.reduce((sum, p) => sum + p.documentsCopied, 0);
      if (copied >= 2000) break;
      if (Date.now() - t0 > 60_000) throw new Error('the copy did not start');
      await sleep(20);
    }
    const first = await cluster.stepDown(10);
    const atFirst = await watch.partitions();
    const copiedAfterStepDown = atFirst.reduce((sum, p) => sum + p.documentsCopied, 0);
    console.log(`[failover] step-down during the copy: member ${first.from} → ${first.to} at ${copied} documents copied (${copiedAfterStepDown} when the new primary was up), ${Date.now() - t0} ms`);
    expect((await watch.doc())?.step).toBe('copy');
    expect(atFirst.some((p) => !p.done)).toBe(true);
    // Then the new primary dies (kill -9): unlike a step-down, which leaves the copy's cursor readable on
    // the old primary, this breaks the cursor; the copy must reopen it from its saved lastId.
    for (;;) {
      const partitions = await watch.partitions();
      if (partitions.reduce((sum, p) => sum + p.documentsCopied, 0) >= copiedAfterStepDown + 5000 || partitions.every((p) => p.done)) break;
      await sleep(20);
    }
    const killed = await cluster.primaryIndex();
    const beforeKill = await watch.partitions();
    await cluster.killMember(killed);
    const stepAtKill = (await watch.doc())?.step;
    console.log(`[failover] primary ${killed} killed (SIGKILL) during ${stepAtKill} at ${beforeKill.reduce((sum, p) => sum + p.documentsCopied, 0)} documents copied, ${beforeKill.filter((p) => !p.done).length} partitions left`);
    expect(stepAtKill).toBe('copy');
    expect(beforeKill.some((p) => !p.done)).toBe(true);
    const synced = await sync;
    await cluster.restartMember(killed);
    expect(synced.exitCode, synced.summary).toBe(0);
    expect(synced.progress?.phase).toBe('tailing');
    console.log(`[failover] sync done in ${Date.now() - t0} ms: ${synced.summary}`);

    const t1 = Date.now();
    const tail = runTail(config, { maxDurationMs: 15_000 }, testPorts('failover-tail'));
    await sleep(3000);
    const second = await cluster.stepDown(10);
    console.log(`[failover] step-down during the tail: member ${second.from} → ${second.to}, ${Date.now() - t1} ms into it`);
    await sleep(3000);
    const acknowledged = await writer.stop();
    expect(acknowledged).toBeGreaterThan(100);
    const tailed = await tail;
    expect(tailed.exitCode, tailed.summary).toBe(0);
    // Ready means caught up and every document verified: under a loaded machine the comparison of 50k documents
    // and the rechecks of the writers' documents may take more than one short slice.
    const final = await tailUntilReady(config, 'failover-final', { sliceMs: 4000, maxSlices: 8 });
    if (!final.progress?.readyForCutover) {
      // What the comparison holds against the destination, and what differs now, for the report.
      const queue = await destination.db('__mongo_live_migrate').collection('recheck').find({ m: config.name }).toArray();
      console.log(`[failover] not ready: ${final.summary}\nrecheck queue: ${JSON.stringify(queue)}`);
      for (const coll of ['items', 'w']) console.log(`[failover] ${coll} differences now:\n${(await collectionDifferences(source, destination, db, coll)).join('\n')}`);
    }
    expect(final.progress?.readyForCutover, final.summary).toBe(true);

    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    for (const coll of ['items', 'w']) {
      expect(await destination.db(db).collection(coll).countDocuments(), `${coll} count`).toBe(await source.db(db).collection(coll).countDocuments());
      expect(dst[coll], `${coll} content`).toBe(src[coll]);
    }
    expect(await indexKeys(destination, db, 'items')).toEqual(await indexKeys(source, db, 'items'));
    console.log(`[failover] ${acknowledged} writes; equal after ${Date.now() - t0} ms`);
  });
});
