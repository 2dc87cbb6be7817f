import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { setPausePoint } from '../../src/engine/failpoints.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { expectSidesEqual } from '../support/exact.js';

/**
 * The tail writes data with w: 1 and waits for the destination's majority only when it saves its position
 * (src/engine/apply/write-terms.ts). Here the destination loses exactly the writes that rule is about: its
 * secondaries stop fetching the oplog just before the tail writes a batch (failpoint stopReplProducer), so the
 * batch exists on the primary alone; then, at a chosen step of the position save, the primary is killed, a
 * secondary (which never saw the batch) is elected, and the old primary comes back and rolls the batch back.
 * A position saved past that batch would leave it missing for good: the sides must end equal, byte for byte.
 *
 * - before the fence: the data was acknowledged in the old term, the save would run on the new primary;
 * - before the save: the fence too was acknowledged in the old term (and rolled back with the data);
 * - a save in flight: one save waits for its majority (which never comes: the secondaries fetch nothing) while
 *   the next batch is written and the next save's fence acknowledged; the primary dies then, with two saves
 *   open (saves overlap: apply/write-terms.ts).
 */
describe('destination rollback of w: 1 data writes during tail', () => {
  let destinationSet: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;

  beforeAll(async () => {
    destinationSet = await startOwnCluster({ name: 'dstrollback', members: 3, args: ['--setParameter', 'enableTestCommands=1'] });
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(destinationSet.uri);
  });

  afterAll(async () => {
    setPausePoint('apply:before-writes', undefined);
    for (const point of [...POINTS, 'position:fence-written']) setPausePoint(point, undefined);
    await source?.close();
    await destination?.close();
    await destinationSet?.stop();
  });

  const POINTS = ['position:before-fence', 'position:before-save'] as const;
  const IN_FLIGHT = 'a save in flight';

  it.each([...POINTS, IN_FLIGHT])('kills the destination primary at %s: nothing rolled back stays covered', async (point) => {
    const db = uniqueName('dstrb');
    const c = source.db(db).collection<Document>('c');
    await source.db(db).createCollection('c');
    await c.insertMany(Array.from({ length: 300 }, (_, i): Document => ({ _id: i, v: i, pad: 'x'.repeat(50) })));
    // With continuous verification on (the default): the feed's touch-log records are written like the data,
    // and a position save vouches for both or neither.
    const config = testConfig(uniqueName('dstrb').replace(/_/g, '-'), sharedClusters().sourceUri, destinationSet.uri, [db]);
    const synced = await runSync(config, {}, testPorts(`dstrb-sync-${point}`));
    expect(synced.exitCode, synced.summary).toBe(0);

    // The batch the destination will lose: updates, inserts and deletes of distinct documents, seen once.
    await c.updateMany({ _id: { $lt: 200 } } as Document, { $set: { v: 'updated', at: new Date() } }, { writeConcern: { w: 'majority' } });
    await c.insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: 1000 + i, v: 'inserted' })), { writeConcern: { w: 'majority' } });
    await c.deleteMany({ _id: { $gte: 250, $lt: 300 } } as Document, { writeConcern: { w: 'majority' } });

    let oldPrimary = -1;
    let killed = false;
    let saveSent = false;
    setPausePoint('apply:before-writes', async () => {
      if (oldPrimary !== -1) return;
      oldPrimary = await destinationSet.primaryIndex();
      await Promise.all(secondariesOf(oldPrimary).map((i) => replication(destinationSet.memberUri(i), 'alwaysOn')));
    });
    if (point === IN_FLIGHT) {
      // The first save after the lost batch is sent and waits; a second batch comes while it does.
      setPausePoint('position:before-save', async () => {
        if (oldPrimary === -1 || saveSent) return;
        saveSent = true;
        void sleep(200).then(() => c.insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: 2000 + i, v: 'second batch' })), { writeConcern: { w: 'majority' } }));
      });
    }
    const killAt = point === IN_FLIGHT ? 'position:fence-written' : point;
    setPausePoint(killAt, async () => {
      if (oldPrimary === -1 || killed || (point === IN_FLIGHT && !saveSent)) return;
      killed = true;
      // What the old primary acknowledged is on no other member.
      const hello = await destination.db('admin').command({ hello: 1 });
      const lastWrite = hello.lastWrite as { opTime: { ts: { greaterThan(other: unknown): boolean } }; majorityOpTime: { ts: unknown } };
      expect(lastWrite.opTime.ts.greaterThan(lastWrite.majorityOpTime.ts)).toBe(true);
      await destinationSet.killMember(oldPrimary);
      await Promise.all(secondariesOf(oldPrimary).map((i) => replication(destinationSet.memberUri(i), 'off')));
      expect(secondariesOf(oldPrimary)).toContain(await destinationSet.primaryIndex());
    });
    try {
      const tail = await runTail(config, { maxDurationMs: 12_000 }, testPorts(`dstrb-tail-${point}`));
      expect(tail.exitCode, tail.summary).toBe(0);
    } finally {
      setPausePoint('apply:before-writes', undefined);
      setPausePoint('position:before-save', undefined);
      setPausePoint(killAt, undefined);
    }
    expect(killed).toBe(true);

    // The old primary comes back and rolls back what only it had. One more slice, as after any interrupted one:
    // the slice above may have run out of time before applying again what the refused save left unsaved (under
    // load, the kill and the election take most of it). A position saved past the lost batch leaves no event to
    // bring it back, so this slice cannot hide one.
    await destinationSet.restartMember(oldPrimary);
    await waitForMember(destinationSet, oldPrimary);
    const last = await runTail(config, { maxDurationMs: 6000 }, testPorts(`dstrb-tail2-${point}`));
    expect(last.exitCode, last.summary).toBe(0);
    await expectSidesEqual(source, destination, [db]);
    await source.db(db).dropDatabase();

    function secondariesOf(primary: number): number[] {
      return destinationSet.members.map((m) => m.index).filter((i) => i !== primary);
    }
  });
});

/** Stops (alwaysOn) or resumes (off) one member's oplog fetching. */
async function replication(uri: string, mode: 'alwaysOn' | 'off'): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.db('admin').command({ configureFailPoint: 'stopReplProducer', mode });
  } finally {
    await client.close();
  }
}

/** Waits until a restarted member is a healthy PRIMARY or SECONDARY again (its rollback done). */
async function waitForMember(set: LocalReplicaSet, index: number): Promise<void> {
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(250)) {
    const state = await set.memberState(index).catch(() => 'UNKNOWN');
    if (state === 'PRIMARY' || state === 'SECONDARY') return;
  }
  throw new Error(`member ${index} did not come back within 90 s`);
}
