import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { assessMajority } from '../../src/checks/majority.js';
import { MajorityWatch } from '../../src/engine/majority-watch.js';
import { hello } from '../../src/mongo/introspection.js';
import { majorityBehindSeconds } from '../../src/mongo/majority-point.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { runStatus } from '../../src/commands/status.js';
import { UserError } from '../../src/errors.js';
import { runSync } from '../../src/commands/sync.js';
import { dbHashes, recordingPorts, testConfig, testPorts } from '../support/engine.js';

/**
 * A secondary that stops applying (fsyncLock holds its writes) leaves the primary up and writable with w: 1, but
 * its majority commit point stops: what a data-bearing member down in a primary-secondary-arbiter set does, and
 * what makes every majority read and write of the migration wait without an error.
 */
describe('a majority commit point that stops following the writes', () => {
  let cluster: LocalReplicaSet;
  let client: MongoClient;
  let secondary: MongoClient;
  beforeAll(async () => {
    cluster = await startOwnCluster({ name: 'majority', members: 2 });
    client = await connect(cluster.uri);
    secondary = new MongoClient(cluster.memberUri(1), { directConnection: true, serverSelectionTimeoutMS: 15_000 });
  });
  afterAll(async () => {
    await secondary?.db('admin').command({ fsyncUnlock: 1 }).catch(() => undefined);
    await Promise.all([client?.close(), secondary?.close()]);
    await cluster?.stop();
  });

  it('validate warns with how far behind it is, the engine says so in its log, and again once it follows', async () => {
    const coll = client.db('majority').collection('writes');
    await coll.insertOne({ n: 0 }, { writeConcern: { w: 'majority' } });
    expect(assessMajority('destination', await hello(client)).status).toBe('pass');

    const { ports, lines } = recordingPorts('majority-watch');
    const watch = new MajorityWatch([{ side: 'destination', client }], ports.log, 3_600_000);
    try {
      await secondary.db('admin').command({ fsync: 1, lock: true });
      // hello dates the writes to the second: two writes 11 s apart put the last one past the warning's 10 s.
      await sleep(11_500);
      await coll.insertOne({ n: 1 }, { writeConcern: { w: 1 } });
      const reply = await hello(client);
      expect(majorityBehindSeconds(reply)).toBeGreaterThanOrEqual(10);
      const finding = assessMajority('destination', reply);
      expect(finding.status).toBe('warn');
      expect(finding.message).toMatch(/majority commit point of the destination is \d+(\.\d)?s behind its last write/);
      await watch.probe();
      expect(lines().filter((line) => /majority commit point of the destination is .* behind its last write: the copy and every state write wait/.test(line))).toHaveLength(1);
      // Reported once a minute, not at every probe.
      await watch.probe();
      expect(lines().filter((line) => /behind its last write/.test(line))).toHaveLength(1);

      await secondary.db('admin').command({ fsyncUnlock: 1 });
      await coll.insertOne({ n: 2 }, { writeConcern: { w: 'majority' } });
      expect(majorityBehindSeconds(await hello(client))).toBeLessThan(10);
      await watch.probe();
      expect(lines().some((line) => /majority commit point of the destination follows its writes again/.test(line))).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('a sync against a destination whose majority stops says why it waits, and finishes exact once it follows', async () => {
    const db = uniqueName('majsync');
    const source = await connect(sharedClusters().sourceUri);
    try {
      const items = source.db(db).collection('items');
      for (let i = 0; i < 6000; i += 2000) await items.insertMany(Array.from({ length: 2000 }, (_, k) => ({ _id: i + k, pad: 'x'.repeat(200) })) as never[]);
      await secondary.db('admin').command({ fsync: 1, lock: true });
      const config = testConfig(uniqueName('majsync').replace(/_/g, '-'), sharedClusters().sourceUri, cluster.uri, [db], 'sync: { batchSize: 500 }\n');
      const { ports, lines } = recordingPorts('majority-sync', 2000);
      let ended = false;
      const sync = runSync(config, {}, ports).finally(() => (ended = true));
      const warned = (): boolean => lines().some((line) => /majority commit point of the destination is .* behind its last write/.test(line));
      for (const deadline = Date.now() + 90_000; !warned(); await sleep(500)) {
        if (Date.now() > deadline) throw new Error(`no majority warning within 90 s; the log:\n${lines().slice(-40).join('\n')}`);
      }
      // It waits; it has not failed.
      expect(ended).toBe(false);
      // status, from another process's point of view, says why now (before, it showed a copy that did not move).
      // The state may not exist yet (its creation waits for the majority too): then status's error says why.
      const said = await runStatus(config, {}, testPorts('majority-status')).then(
        (status) => `${status.summary}\n${status.progress?.warnings.join('\n') ?? ''}`,
        (error: unknown) => (error instanceof UserError ? error.message : `not a user error: ${String(error)}`),
      );
      expect(said).toMatch(/the majority commit point of the destination is .* behind its last write: the copy and every state write wait/);
      expect(said).not.toMatch(/majority commit point of the source|has not started/);
      await secondary.db('admin').command({ fsyncUnlock: 1 });
      const outcome = await sync;
      expect(outcome.exitCode, outcome.summary).toBe(0);
      // The report says it too (the job summary, the PR comment, --json), not the log alone.
      expect(outcome.progress?.warnings.some((w) => /majority commit point of the destination was up to .* behind its last write during this run/.test(w))).toBe(true);
      expect(await dbHashes(client, db)).toEqual(await dbHashes(source, db));

      // Once the state exists, status says it in its summary and its warnings (the job summary, --json).
      await secondary.db('admin').command({ fsync: 1, lock: true });
      await sleep(11_500);
      await client.db('majority').collection('writes').insertOne({ n: 3 }, { writeConcern: { w: 1 } });
      const status = await runStatus(config, {}, testPorts('majority-status'));
      expect(status.summary).toMatch(/; warning: .*the majority commit point of the destination is .* behind its last write/);
      expect(status.progress?.warnings.filter((w) => /majority commit point of the destination is .* behind its last write/.test(w))).toHaveLength(1);
    } finally {
      await secondary.db('admin').command({ fsyncUnlock: 1 }).catch(() => undefined);
      await source.close();
    }
  });
});
