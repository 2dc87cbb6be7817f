import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import type { Config } from '../../src/config/types.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { setPausePoint } from '../../src/engine/failpoints.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { collectionDifferences, dbHashes, tailUntilDrained, tailUntilReady, testConfig, testPorts } from '../support/engine.js';

interface User {
  _id: string;
  email: string;
  n: number;
}

/** A migration of `db`, synced and tailed until ready: its relaxed unique indexes are unique again on the destination. */
async function readyMigration(db: string, tag: string, destination: MongoClient, collection: string, alsoIncluded: string[] = []): Promise<Config> {
  const { sourceUri, destinationUri } = sharedClusters();
  const config = testConfig(uniqueName(tag).replace(/_/g, '-'), sourceUri, destinationUri, [db, ...alsoIncluded], 'cutover: { maxLagSeconds: 5 }\n');
  const synced = await runSync(config, {}, testPorts(`${tag}-sync`));
  expect(synced.exitCode, synced.summary).toBe(0);
  const ready = await tailUntilReady(config, `${tag}-ready`);
  expect(ready.progress?.readyForCutover, ready.summary).toBe(true);
  expect((await destination.db(db).collection(collection).listIndexes().toArray()).find((i) => i.name === 'email_ci')?.unique).toBe(true);
  return config;
}

/** The sides equal, byte for byte, once a tail has read to the end of the stream. */
async function expectEqualAfterDrain(config: Config, tag: string, source: MongoClient, destination: MongoClient, db: string, collection: string): Promise<void> {
  const drained = await tailUntilDrained(config, `${tag}-drain`);
  expect(drained.exitCode, drained.summary).toBe(0);
  expect(await collectionDifferences(source, destination, db, collection)).toEqual([]);
  const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
  expect(dst[collection]).toBe(src[collection]);
}

/**
 * Documents the applier writes from the source's current state after a batch's own writes: once a batch has
 * resolved a duplicate key, the documents its deltas touched are read again and rewritten (a delta may have met a
 * state a resolution wrote). Those current states can collide on a unique index with documents the destination
 * still holds in older states, like any write of a batch, and must be resolved the same way. A fuzzer run in CI
 * met this with a case-insensitive unique email, and the tail stopped on E11000.
 */
describe('documents rewritten from the source after a batch go through duplicate-key resolution', () => {
  const clients = useSharedClients();
  const db = uniqueName('rewrite');

  beforeAll(async () => {
    const users = clients.source.db(db).collection<User>('users');
    await users.insertMany([
      { _id: 'a', email: 'a@example.com', n: 0 },
      { _id: 'd', email: 'd@example.com', n: 0 },
    ]);
    await users.createIndex({ email: 1 }, { unique: true, name: 'email_ci', collation: { locale: 'en', strength: 2 } });
  });

  afterEach(() => setPausePoint('apply:before-writes', undefined));

  it('the rewrite of a delta\'s document meets a stale holder of its current unique value; the tail resolves it', { timeout: 120_000 }, async () => {
    const { source, destination } = clients;
    const config = await readyMigration(db, 'rewrite', destination, 'users');

    // The destination as a crash replay leaves it: `y` and `e`, deleted on the source since, still hold values
    // the source gave to other documents (equal under the index's collation).
    const users = { source: source.db(db).collection<User>('users'), destination: destination.db(db).collection<User>('users') };
    await users.destination.insertMany([
      { _id: 'y', email: 'Y@example.com', n: 0 },
      { _id: 'e', email: 'E@example.com', n: 0 },
    ]);
    // One batch: an insert that collides with `y` (resolved: a duplicate key in this batch) and a delta on `d`.
    await users.source.insertOne({ _id: 'x', email: 'y@example.com', n: 0 });
    await users.source.updateOne({ _id: 'd' }, { $inc: { n: 1 } });
    // While that batch is about to be written, `d` moves on to `e`'s value: after the batch, `d` is read again and
    // its current state collides with the stale `e`.
    let moved = false;
    setPausePoint('apply:before-writes', async () => {
      if (moved) return;
      moved = true;
      await users.source.updateOne({ _id: 'd' }, { $set: { email: 'e@example.com' } });
    });
    const tailed = await runTail(config, { maxDurationMs: 5000 }, testPorts('rewrite-tail'));
    expect(moved).toBe(true);
    expect(tailed.exitCode, tailed.summary).toBe(0);

    await expectEqualAfterDrain(config, 'rewrite', source, destination, db, 'users');
  });

  // Across databases the server copies the documents into a new collection and drops the old one, which the
  // tail mirrors: the stale holder is dropped with the old collection instead of moving (the read-back put meets no
  // holder there; checked by removing the resolution, the case still passes). It is the same put, written exact.
  it.each([
    { across: 'in its database', crossDb: false },
    { across: 'to another database', crossDb: true },
  ])('an updated document read back after a rename of its collection ($across) is written exact under the new name, beside a stale holder of its value', { timeout: 120_000 }, async ({ crossDb }) => {
    const { source, destination } = clients;
    const renamed = uniqueName('rewriteren');
    const to = crossDb ? uniqueName('rewriteto') : renamed;
    const members = source.db(renamed).collection<User>('members');
    await members.insertMany([{ _id: 'a', email: 'a@example.com', n: 0 }]);
    await members.createIndex({ email: 1 }, { unique: true, name: 'email_ci', collation: { locale: 'en', strength: 2 } });
    const config = await readyMigration(renamed, 'rewriteren', destination, 'members', crossDb ? [to] : []);
    // `a` not on the destination yet (its update's delta misses, and the read by its collection's UUID finds it
    // moved: the rename is later in the stream), and a stale `f` holding the value `a` takes.
    await destination.db(renamed).collection<User>('members').deleteOne({ _id: 'a' });
    await destination.db(renamed).collection<User>('members').insertOne({ _id: 'f', email: 'F@example.com', n: 0 });
    await members.updateOne({ _id: 'a' }, { $set: { email: 'f@example.com', n: 1 } });
    await source.db('admin').command({ renameCollection: `${renamed}.members`, to: `${to}.people` });
    // At the rename, `a` is read under its new name and written there: in its database beside the stale `f`, moved
    // with it; across databases `f` went with the dropped collection.
    const tailed = await runTail(config, { maxDurationMs: 5000 }, testPorts('rewriteren-tail'));
    expect(tailed.exitCode, tailed.summary).toBe(0);
    await expectEqualAfterDrain(config, 'rewriteren', source, destination, to, 'people');
    expect(await destination.db(renamed).listCollections({ name: 'members' }).toArray()).toEqual([]);
  });
});
