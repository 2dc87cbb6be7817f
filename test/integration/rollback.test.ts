import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Document, type Timestamp } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts } from '../support/engine.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * A real source rollback. The secondaries of a three-member source stop fetching the oplog (failpoint
 * stopReplProducer), the primary acknowledges w:1 writes that only it holds, and the migration syncs while
 * those writes exist on the primary alone. Then the primary is killed (SIGKILL), a secondary wins the election,
 * and the old primary restarts and rolls its writes back. No change event ever reports that, so the only
 * correct behaviour is never to have read them: the copy reads majority-committed data, and the capture point
 * is the majority point, not the primary's last write.
 */
describe('source rollback of w:1 writes', () => {
  let cluster: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('rollback');

  beforeAll(async () => {
    cluster = await startOwnCluster({ name: 'rollback', members: 3, args: ['--setParameter', 'enableTestCommands=1'] });
    source = await connect(cluster.uri);
    destination = await connect(sharedClusters().destinationUri);
    await source.db(db).createCollection('c');
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 200 }, (_, i): Document => ({ _id: i, v: i })), { writeConcern: { w: 'majority' } });
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
    await cluster?.stop();
  });

  it('never copies a write the source rolls back, and the sides end equal', async () => {
    const config = testConfig(uniqueName('rollback').replace(/_/g, '-'), cluster.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5 }\n');
    const oldPrimary = await cluster.primaryIndex();
    const secondaries = cluster.members.map((m) => m.index).filter((i) => i !== oldPrimary);
    await Promise.all(secondaries.map((i) => failpoint(cluster.memberUri(i), 'alwaysOn')));

    // Writes that only the primary will ever hold.
    const c = source.db(db).collection<Document>('c');
    await c.insertOne({ _id: 'doomed' } as Document, { writeConcern: { w: 1 } });
    await c.updateOne({ _id: 0 } as Document, { $set: { v: 'doomed update' } }, { writeConcern: { w: 1 } });
    await c.deleteOne({ _id: 1 } as Document, { writeConcern: { w: 1 } });
    const lastWrite = (await source.db('admin').command({ hello: 1 })).lastWrite as { opTime: { ts: Timestamp }; majorityOpTime: { ts: Timestamp } };
    expect(lastWrite.majorityOpTime.ts.lessThan(lastWrite.opTime.ts)).toBe(true);

    const sync = await runSync(config, {}, testPorts('rollback-sync'));
    expect(sync.exitCode).toBe(0);
    expect(sync.progress?.phase).toBe('tailing');
    const d = destination.db(db).collection<Document>('c');
    expect(await d.findOne({ _id: 'doomed' } as Document)).toBeNull();
    expect((await d.findOne({ _id: 0 } as Document))?.v).toBe(0);
    expect(await d.findOne({ _id: 1 } as Document)).not.toBeNull();
    const state = (await new StateWatch(destination, config.name).doc())!;
    // The capture point is not ahead of what the copy could read (the majority point).
    expect(state.captureStart!.operationTime.lessThan(lastWrite.opTime.ts)).toBe(true);
    expect(state.captureStart!.operationTime.lessThan(lastWrite.majorityOpTime.ts) || state.captureStart!.operationTime.equals(lastWrite.majorityOpTime.ts)).toBe(true);

    // The primary dies with its writes; a secondary (which never saw them) takes over.
    const t0 = Date.now();
    await cluster.killMember(oldPrimary);
    await Promise.all(secondaries.map((i) => failpoint(cluster.memberUri(i), 'off')));
    const newPrimary = await cluster.primaryIndex();
    expect(secondaries).toContain(newPrimary);
    await c.insertOne({ _id: 'after-failover' } as Document, { writeConcern: { w: 'majority' } });
    // The old primary comes back and rolls back what only it had.
    await cluster.restartMember(oldPrimary);
    const old = new MongoClient(cluster.memberUri(oldPrimary), { serverSelectionTimeoutMS: 15_000 });
    try {
      for (;;) {
        const has = await old.db(db).collection('c').findOne({ _id: 'after-failover' } as Document).catch(() => null);
        if (has) break;
        if (Date.now() - t0 > 90_000) throw new Error('the old primary did not roll back and catch up');
        await sleep(250);
      }
      expect(await old.db(db).collection('c').findOne({ _id: 'doomed' } as Document)).toBeNull();
    } finally {
      await old.close();
    }
    console.log(`[rollback] failover, rollback and catch-up of the old primary in ${Date.now() - t0} ms`);
    expect(await c.findOne({ _id: 'doomed' } as Document)).toBeNull();

    const tail = await runTail(config, { maxDurationMs: 3000 }, testPorts('rollback-tail'));
    expect(tail.exitCode).toBe(0);
    expect(await d.findOne({ _id: 'doomed' } as Document)).toBeNull();
    expect(await d.findOne({ _id: 'after-failover' } as Document)).not.toBeNull();
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });
});

/** Stops (alwaysOn) or resumes (off) one member's oplog fetching. */
async function failpoint(uri: string, mode: 'alwaysOn' | 'off'): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.db('admin').command({ configureFailPoint: 'stopReplProducer', mode });
  } finally {
    await client.close();
  }
}
