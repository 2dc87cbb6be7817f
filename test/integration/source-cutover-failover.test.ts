import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoServerError, type Document, type MongoClient } from 'mongodb';
import { runCutover } from '../../src/commands/cutover.js';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts } from '../support/engine.js';

/**
 * A three-member source whose primary steps down while the cutover runs (write block, final time, drain):
 * the cutover commits, the block holds on the new primary, and the sides are equal.
 */
describe('source primary steps down during cutover', () => {
  let rs: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('srccut');

  beforeAll(async () => {
    rs = await startOwnCluster({ name: 'srccut', members: 3 });
    source = await connect(rs.uri);
    destination = await connect(sharedClusters().destinationUri);
    await source.db(db).createCollection('items');
    await source.db(db).collection<Document>('items').insertMany(Array.from({ length: 5000 }, (_, i): Document => ({ _id: i, v: 0 })));
  });
  afterAll(async () => {
    await source?.close();
    await destination?.close();
    await rs?.stop();
  });

  it('commits, keeps the source blocked on the new primary, and the sides are equal', async () => {
    const config = testConfig(uniqueName('srccut').replace(/_/g, '-'), rs.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n');
    expect((await runSync(config, {}, testPorts())).exitCode).toBe(0);
    let stopped = false;
    const writes = (async () => {
      for (let n = 1; !stopped; n++) {
        await source.db(db).collection<{ _id: number; v: number }>('items').updateOne({ _id: n % 5000 }, { $set: { v: n } }).catch(() => sleep(20));
      }
    })();
    const cutover = runCutover(config, { confirm: config.name }, testPorts());
    // Step down the moment the cutover starts its steps (write block, final time, drain).
    const state = destination.db('__mongo_live_migrate').collection<{ _id: string; phase: string }>('migrations');
    for (const deadline = Date.now() + 60_000; (await state.findOne({ _id: config.name }))?.phase !== 'cutting-over'; await sleep(5)) {
      if (Date.now() > deadline) throw new Error('the cutover did not start');
    }
    const { from, to } = await rs.stepDown();
    expect(to).not.toBe(from);
    const outcome = await cutover;
    stopped = true;
    await writes;
    expect(outcome.exitCode, outcome.summary).toBe(0);
    expect(outcome.progress?.phase).toBe('committed');
    const refused = await source.db(db).collection('items').insertOne({ late: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MongoServerError);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
    expect((await runStatus(config, {}, testPorts())).progress?.sourceWriteBlocked).toBe(true);
  });
});
