import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Int32, Long, MongoError, type Document, type MongoClient } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { dbHashes, indexKeys, testConfig, testPorts } from '../support/engine.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * A three-member source whose primary steps down in the middle of the copy, then is killed (SIGKILL) in the
 * middle of the copy, and steps down again in the middle of a tail, with writers (retryable writes,
 * transactions) running throughout: the copy reopens its cursors from the saved lastId, the change streams
 * resume, and the destination ends equal to the source.
 */
describe('source primary steps down during copy and during tail', () => {
  let cluster: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  let writer: ElectionTolerantWriter | undefined;
  const db = uniqueName('failover');

  beforeAll(async () => {
    cluster = await startOwnCluster({ name: 'failover', members: 3 });
    source = await connect(cluster.uri);
    destination = await connect(sharedClusters().destinationUri);
    const sdb = source.db(db);
    await sdb.createCollection('items');
    await sdb.createCollection('w');
    for (let i = 0; i < 50_000; i += 10_000) {
      await sdb.collection<Document>('items').insertMany(Array.from({ length: 10_000 }, (_, k): Document => ({ _id: i + k, n: new Int32((i + k) % 97), s: `item-${i + k}` })));
    }
    await sdb.collection('items').createIndex({ n: 1, s: 1 }, { name: 'n_s' });
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await source?.close();
    await destination?.close();
    await cluster?.stop();
  });

  it('completes and the sides are equal', async () => {
    const config = testConfig(uniqueName('failover').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db], 'sync: { batchSize: 100, partitionSizeMB: 1, parallelCollections: 2 }\ncutover: { maxLagSeconds: 5 }\n');
    const watch = new StateWatch(destination, config.name);
    writer = new ElectionTolerantWriter(source, db, ['items', 'w'], 300);
    writer.start(3);

    const t0 = Date.now();
    const sync = runSync(config, {}, testPorts('failover-sync'));
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
    const final = await runTail(config, { maxDurationMs: 4000 }, testPorts('failover-final'));
    expect(final.progress?.readyForCutover).toBe(true);

    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    for (const coll of ['items', 'w']) {
      expect(await destination.db(db).collection(coll).countDocuments(), `${coll} count`).toBe(await source.db(db).collection(coll).countDocuments());
      expect(dst[coll], `${coll} content`).toBe(src[coll]);
    }
    expect(await indexKeys(destination, db, 'items')).toEqual(await indexKeys(source, db, 'items'));
    console.log(`[failover] ${acknowledged} writes; equal after ${Date.now() - t0} ms`);
  });
});

/**
 * The mixed writer of test/support/engine.ts (inserts, updates incl. arrays and $unset, replacements,
 * deletes, delete + re-insert, transactions), written as an application should during an election: the
 * driver retries a retryable write once, and when the election outlasts that retry the application retries
 * again. A retried non-idempotent write may apply twice on the source; the test compares source with
 * destination, whatever the source holds.
 */
class ElectionTolerantWriter {
  private stopped = false;
  private loops: Promise<void>[] = [];
  acknowledged = 0;
  retried = 0;
  private seq = 0;

  constructor(private readonly client: MongoClient, private readonly db: string, private readonly collections: string[], private readonly idSpace: number) {}

  start(concurrency: number): void {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop(i));
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.acknowledged;
  }

  private async loop(worker: number): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const coll = this.client.db(this.db).collection<Document>(this.collections[(worker + n) % this.collections.length]!);
      const id = `w${Math.floor(Math.random() * this.idSpace)}`;
      const choice = (n++ + worker) % 9;
      const op = async (): Promise<unknown> => {
        switch (choice) {
          case 0:
          case 1:
            return coll.updateOne({ _id: id } as Document, { $set: { v: ++this.seq, at: new Date() }, $inc: { n: new Int32(1) } }, { upsert: true });
          case 2:
            return coll.updateOne({ _id: id } as Document, { $push: { arr: { $each: [this.seq, 'x'], $slice: -5 } } as Document });
          case 3:
            return coll.updateOne({ _id: id } as Document, { $unset: { at: '' } });
          case 4:
            return coll.replaceOne({ _id: id } as Document, { replaced: true, big: 'r'.repeat(200) }, { upsert: true });
          case 5:
            return coll.deleteOne({ _id: id } as Document);
          case 6:
            await coll.deleteOne({ _id: id } as Document);
            return coll.insertOne({ _id: id, reinserted: ++this.seq } as Document);
          case 7: {
            const session = this.client.startSession();
            try {
              // One attempt per call: the driver's withTransaction retries for up to 120 s by itself, which under
              // an election can outlast the test; the loop below retries a bounded number of times instead.
              session.startTransaction();
              try {
                await coll.updateOne({ _id: id } as Document, { $set: { txn: ++this.seq } }, { upsert: true, session });
                await coll.updateOne({ _id: `${id}-t` } as Document, { $set: { txn: this.seq } }, { upsert: true, session });
                await session.commitTransaction();
              } catch (error) {
                await session.abortTransaction().catch(() => undefined);
                throw error;
              }
              return;
            } finally {
              await session.endSession();
            }
          }
          default:
            return coll.updateOne({ _id: id } as Document, { $set: { 'nested.a.b': this.seq, [`f${this.seq % 7}`]: Long.fromNumber(this.seq) } }, { upsert: true });
        }
      };
      for (let attempt = 1; ; attempt++) {
        try {
          await op();
          this.acknowledged++;
          break;
        } catch (error) {
          if ((error as { code?: number }).code === 11000) break; // racing re-inserts
          const transient = error instanceof MongoError && (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('TransientTransactionError') || error.hasErrorLabel('UnknownTransactionCommitResult') || error.name === 'MongoNetworkError' || error.name === 'MongoServerSelectionError');
          if (transient && this.stopped) break; // stopping: leave it; the sides are compared after a final tail
          if (!transient || attempt >= 20) throw error;
          this.retried++;
          await sleep(250);
        }
      }
    }
  }
}
