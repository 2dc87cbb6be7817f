import { afterAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';

describe('the real replica sets the suite runs against', () => {
  const clients: MongoClient[] = [];
  const own: LocalReplicaSet[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(own.map((s) => s.stop()));
  });

  it('a one-member source is a writable replica set primary with change streams', async () => {
    const client = await connect(sharedClusters().sourceUri);
    clients.push(client);
    const hello = await client.db('admin').command({ hello: 1 });
    expect(hello.setName).toBeTypeOf('string');
    expect(hello.isWritablePrimary).toBe(true);
    const coll = client.db(uniqueName('harness')).collection('probe');
    const stream = coll.watch([], { fullDocument: 'updateLookup' });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 200));
    await coll.insertOne({ _id: 1 as never, v: 'x' });
    const event = await next;
    expect(event.operationType).toBe('insert');
    await stream.close();
  });

  it('a three-member set fails over when its primary steps down, and writes go on', async () => {
    const { mongod } = sharedClusters();
    expect(mongod, 'needs a mongod binary to control members').toBeTruthy();
    const rs = await startOwnCluster({ name: 'failover', members: 3 });
    own.push(rs);
    const client = await connect(rs.uri);
    clients.push(client);
    const coll = client.db('failover').collection('writes');
    await coll.insertOne({ n: 0 });
    const { from, to } = await rs.stepDown();
    expect(to).not.toBe(from);
    // Retryable writes ride over the election.
    await coll.insertOne({ n: 1 }, { writeConcern: { w: 'majority' } });
    expect(await coll.countDocuments()).toBe(2);
    const hello = await client.db('admin').command({ hello: 1 });
    expect(hello.hosts).toHaveLength(3);
    expect(hello.primary).toBe(`127.0.0.1:${rs.members[to]!.port}`);

    // Two step-downs asked at once: the second finds the primary the first has just stepped down (CI saw the
    // same race with an election between finding the primary and asking it). Each still ends in a failover.
    const both = await Promise.all([rs.stepDown(), rs.stepDown()]);
    for (const result of both) expect(result.to).not.toBe(result.from);
    await coll.insertOne({ n: 2 }, { writeConcern: { w: 'majority' } });
    expect(await coll.countDocuments()).toBe(3);
  });
});
