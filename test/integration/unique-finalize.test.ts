import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { testConfig, testPorts } from '../support/engine.js';
import { tailUntilCaughtUp } from '../support/runner-process.js';
import { StateStore } from '../../src/engine/state/store.js';
import { relaxIndex } from '../../src/engine/target-catalog.js';
import { finalizeUniqueIndexes } from '../../src/engine/cutover/finalize-unique.js';
import { rawHash } from '../support/engine.js';
import { setPausePoint } from '../../src/engine/failpoints.js';

/**
 * Unique indexes are unique on the destination again while the tail runs (before any cutover), so the tail meets
 * transient duplicate keys: a swap of two unique values reaches the destination as two writes that each collide
 * with the other document's old state. The applier resolves them from the source; the sides end equal.
 */
describe('unique indexes finalized during tail', () => {
  const clients = useSharedClients();

  it('converts relaxed unique indexes during tail and applies swapped and chained unique values without a conflict left', async () => {
    const { source, destination } = clients;
    const db = uniqueName('uniq');
    const users = source.db(db).collection<Document>('users');
    await source.db(db).createCollection('users');
    await users.insertMany(Array.from({ length: 500 }, (_, i): Document => ({ _id: i, email: `e${i}`, name: `n${i}` })));
    await users.createIndex({ email: 1 }, { name: 'email', unique: true });
    const config = testConfig(uniqueName('uniq').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(config, {}, testPorts('uniq-sync'))).exitCode).toBe(0);
    expect((await runTail(config, { maxDurationMs: 3000 }, testPorts('uniq-tail'))).exitCode).toBe(0);
    expect((await destination.db(db).collection('users').listIndexes().toArray()).find((i) => i.name === 'email')).toMatchObject({ unique: true });

    // Swaps (a → tmp, b → a, tmp → b) and a chain (0 takes 1's value, 1 takes 2's, ..., the last takes 0's old one).
    for (let i = 100; i < 140; i += 2) {
      await users.updateOne({ _id: i } as Document, { $set: { email: 'tmp' } });
      await users.updateOne({ _id: i + 1 } as Document, { $set: { email: `e${i}` } });
      await users.updateOne({ _id: i } as Document, { $set: { email: `e${i + 1}` } });
    }
    await users.updateOne({ _id: 200 } as Document, { $set: { email: 'parked' } });
    for (let i = 201; i < 220; i++) await users.updateOne({ _id: i } as Document, { $set: { email: `e${i - 1}` } });
    await users.updateOne({ _id: 200 } as Document, { $set: { email: 'e219' } });

    // Slices until the saved position passes the source's last write (under load one slice may not get there).
    await tailUntilCaughtUp(clients, config.name, async () => {
      const tail = await runTail(config, { maxDurationMs: 4000 }, testPorts('uniq-tail'));
      expect(tail.exitCode, tail.summary).toBe(0);
    });
    // Everything but the TTL-free index list is equal now; the index itself is unique on both sides.
    await expectSidesEqual(source, destination, [db]);
    const status = await runStatus(config, {}, testPorts('uniq-status'));
    expect(status.progress?.verification?.mismatches, status.summary).toBe(0);
    expect((await destination.db(db).collection('users').listIndexes().toArray()).find((i) => i.name === 'email')).toMatchObject({ unique: true });
  });

  it('a delta its delete replaces in the same batch is not left open when a duplicate key was resolved beside it', async () => {
    const { source, destination } = clients;
    const db = uniqueName('uniqopen');
    await source.db(db).createCollection('users');
    await source.db(db).createCollection('w');
    const users = source.db(db).collection<Document>('users');
    await users.insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i, email: `e${i}` })));
    await users.createIndex({ email: 1 }, { name: 'email', unique: true });
    await source.db(db).collection<Document>('w').insertMany(Array.from({ length: 10 }, (_, i): Document => ({ _id: `x${i}`, v: 0 })));
    const config = testConfig(uniqueName('uniqopen').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(config, {}, testPorts('uniqopen-sync'))).exitCode).toBe(0);
    const unique = async (): Promise<boolean> => (await destination.db(db).collection('users').listIndexes().toArray()).some((i) => i.name === 'email' && i.unique === true);
    for (let slice = 0; slice < 8 && !(await unique()); slice++) expect((await runTail(config, { maxDurationMs: 3000 }, testPorts('uniqopen-tail'))).exitCode).toBe(0);
    expect(await unique()).toBe(true);

    // One batch: an update of x1 (applied from its delta) that the delete after it replaces, and an insert that meets
    // a document the destination holds in an older state (its unique value taken), which the applier resolves from
    // the source. Before, the resolution read back every delta of the batch, x1's too: gone on the source, x1 was
    // left open (unresolved) after the delete that settles it had been applied, and a cutover's drain refused to end.
    await destination.db(db).collection<Document>('users').insertOne({ _id: 'older', email: 'taken' } as Document);
    await source.db(db).collection<Document>('w').updateOne({ _id: 'x1' } as Document, { $set: { v: 1 } });
    await source.db(db).collection<Document>('w').deleteOne({ _id: 'x1' } as Document);
    await users.insertOne({ _id: 1000, email: 'taken' } as Document);

    await tailUntilCaughtUp(clients, config.name, async () => {
      const tail = await runTail(config, { maxDurationMs: 4000 }, testPorts('uniqopen-tail'));
      expect(tail.exitCode, tail.summary).toBe(0);
    });
    const state = await destination.db('__mongo_live_migrate').collection<Document>('migrations').findOne({ _id: config.name } as Document);
    expect(state?.unresolved ?? []).toEqual([]);
    await expectSidesEqual(source, destination, [db]);
  });

  it('rewrites the conflicting documents from the source when their _ids are documents whose field names look like integers', async () => {
    const { source, destination } = clients;
    const db = uniqueName('uniqids');
    const sourceUsers = source.db(db).collection<Document>('users');
    const targetUsers = destination.db(db).collection<Document>('users');
    // Maps: stored "k" before "10", the order a JS object reverses (and then names another _id).
    const id = (i: number): Map<string, unknown> => new Map<string, unknown>([['k', 'u'], ['10', i]]);
    await sourceUsers.insertMany(Array.from({ length: 6 }, (_, i): Document => ({ _id: id(i), email: `e${i}` })));
    await sourceUsers.createIndex({ email: 1 }, { name: 'email', unique: true });
    // The destination as a tail not yet caught up leaves it: two documents on one email the source has moved on from.
    await targetUsers.insertMany(Array.from({ length: 6 }, (_, i): Document => ({ _id: id(i), email: i < 3 ? 'stale' : `e${i}` })));
    const store = new StateStore(destination, uniqueName('uniqids'));
    const spec = (await sourceUsers.listIndexes().toArray()).find((i) => i.name === 'email')!;
    await targetUsers.createIndex({ email: 1 }, { name: 'email' });
    await relaxIndex(store, `${db}.users`, spec);

    const converted = await finalizeUniqueIndexes(source, destination, store, (target) => (target === `${db}.users` ? { source: `${db}.users` } : undefined));
    expect(converted).toBe(1);
    expect((await targetUsers.listIndexes().toArray()).find((i) => i.name === 'email')).toMatchObject({ unique: true });
    expect(await rawHash(destination, db, 'users')).toEqual(await rawHash(source, db, 'users'));
  });

  it('a conflicting document whose current value a third, stale document holds is resolved, not refused', async () => {
    const { source, destination } = clients;
    const db = uniqueName('uniqchain');
    const sourceUsers = source.db(db).collection<Document>('users');
    const targetUsers = destination.db(db).collection<Document>('users');
    await sourceUsers.insertMany(Array.from({ length: 3 }, (_, i): Document => ({ _id: i, email: `e${i}` })));
    await sourceUsers.createIndex({ email: 1 }, { name: 'email', unique: true });
    // 0 and 1 collide on a value the source has moved on from; 2 still holds the value 1 holds now. Rewriting 1
    // from the source meets 2 (prepareUnique refuses new duplicates), which is read from the source and written too.
    await targetUsers.insertMany([{ _id: 0, email: 'stale' }, { _id: 1, email: 'stale' }, { _id: 2, email: 'e1' }] as Document[]);
    await targetUsers.createIndex({ email: 1 }, { name: 'email' });
    const store = new StateStore(destination, uniqueName('uniqchain'));
    await relaxIndex(store, `${db}.users`, (await sourceUsers.listIndexes().toArray()).find((i) => i.name === 'email')!);

    const converted = await finalizeUniqueIndexes(source, destination, store, (target) => (target === `${db}.users` ? { source: `${db}.users` } : undefined));
    expect(converted).toBe(1);
    expect((await targetUsers.listIndexes().toArray()).find((i) => i.name === 'email')).toMatchObject({ unique: true });
    expect(await rawHash(destination, db, 'users')).toEqual(await rawHash(source, db, 'users'));
  });

  it('a destination collection renamed while its conflicts are rewritten is not written again under its old name', async () => {
    const { source, destination } = clients;
    const db = uniqueName('uniqmove');
    const sourceUsers = source.db(db).collection<Document>('users');
    const targetUsers = destination.db(db).collection<Document>('users');
    await sourceUsers.insertMany(Array.from({ length: 4 }, (_, i): Document => ({ _id: i, email: `e${i}` })));
    await sourceUsers.createIndex({ email: 1 }, { name: 'email', unique: true });
    await targetUsers.insertMany(Array.from({ length: 4 }, (_, i): Document => ({ _id: i, email: i < 2 ? 'stale' : `e${i}` })));
    await targetUsers.createIndex({ email: 1 }, { name: 'email' });
    const store = new StateStore(destination, uniqueName('uniqmove'));
    await relaxIndex(store, `${db}.users`, (await sourceUsers.listIndexes().toArray()).find((i) => i.name === 'email')!);
    // The tail applies a rename of the collection between the refusal and the rewrite.
    setPausePoint('finalize-unique:rewrite', async () => {
      await destination.db('admin').command({ renameCollection: `${db}.users`, to: `${db}.users_moved` });
    });
    try {
      await finalizeUniqueIndexes(source, destination, store, (target) => (target === `${db}.users` ? { source: `${db}.users` } : undefined));
    } finally {
      setPausePoint('finalize-unique:rewrite', undefined);
    }
    // Nothing under the old name (by name alone the rewrite created it again, holding the two rewritten documents).
    expect((await destination.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['users_moved']);
    expect(await destination.db(db).collection('users_moved').countDocuments({ email: 'stale' })).toBe(2);
  });
});
