import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON, Double, Int32, Long, type Binary, type Document } from 'mongodb';
import { bytesOf } from '../../src/mongo/raw-bson.js';
import { seededRandom } from '../../src/seeded-random.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { cliTailSlice, runRunner, startRunner, tailUntilCaughtUp, writeMigrationFile } from '../support/runner-process.js';
import { seeded } from '../support/seeded.js';

/**
 * The tail's fast path (updates read back in batches, the next batch read while the current one is written,
 * one write command per writer, the position saved twice a second) under a batch job: updateMany over every
 * document, pipeline updates that reorder fields, bulk inserts, deleteMany and a large transaction, while the
 * tail is killed with SIGKILL at seeded moments in the middle of it. At the end both sides are equal, byte for byte.
 */
const seed = Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DOCS = 3000;

/**
 * The tail alone (verify: count turns continuous verification off): this file is about the tail's exactness under
 * a burst and kills. With verification on, its recheck queue takes every document of the burst and the suite's
 * run of this file went from 83 s to 385 s; verification under kills is continuous-verify.test.ts's subject.
 */
const TAIL_ONLY = 'cutover: { verify: count }\n';

describe('tail under a burst, killed in the middle of it', () => {
  const clients = useSharedClients();
  const db = uniqueName('burst');

  /** Data with several `_id` types and a unique index, synced; then bursts on the source while tails are killed. */
  async function burstWithKills(db: string, extra: string, random: () => number): Promise<{ file: string; name: string; rounds: number; kills: number }> {
    const sdb = clients.source.db(db);
    await sdb.createCollection('items');
    await sdb.createCollection('people');
    await sdb.collection('items').createIndex({ email: 1 }, { unique: true });
    const item = (n: number): Document => ({ _id: n % 3 === 0 ? Long.fromNumber(n) : new Int32(n), email: `u${n}@x`, byYear: new Map<string, unknown>([['2024', n], ['2023', new Double(1)]]), q: new Int32(0), pad: 'p'.repeat(200) });
    await sdb.collection('items').insertMany(Array.from({ length: DOCS }, (_, n) => item(n)));
    await sdb.collection<Document>('people').insertMany(Array.from({ length: DOCS / 2 }, (_, n) => ({ _id: `p${n}`, n, tags: ['a', new Double(2)] }) as Document));

    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('burst').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], `tail: { batchSize: 500 }\n${extra}`);
    const synced = await runRunner(['sync', '--config', file]);
    expect(synced.code, synced.stderr).toBe(0);

    let round = 0;
    const burst = async (): Promise<void> => {
      round++;
      const items = sdb.collection('items');
      await items.updateMany({}, { $inc: { q: 1 }, $set: { [`r${round % 3}`]: round } });
      // A pipeline update that moves fields: only the whole document read back from the source says where they went.
      await sdb.collection('people').updateMany({ n: { $mod: [3, round % 3] } }, [{ $unset: 'tags' }, { $set: { tags: ['b', round], z: '$n' } }]);
      await items.insertMany(Array.from({ length: 600 }, (_, k) => item(DOCS * 10 * round + k)));
      await items.deleteMany({ email: { $regex: `^u${round}` } });
      const session = clients.source.startSession();
      try {
        await session.withTransaction(async () => {
          for (let k = 0; k < 50; k++) await items.updateOne({ _id: new Int32(3 * k + 1) } as Document, { $set: { txn: round } }, { session });
        });
      } finally {
        await session.endSession();
      }
    };
    let writing = true;
    const writer = (async () => {
      while (writing) await burst();
    })();
    let kills = 0;
    try {
      for (let slice = 0; slice < 3; slice++) {
        const runner = startRunner(['tail', '--config', file, '--max-duration', '60s']);
        await Promise.race([runner.exited, sleep(1500 + random() * 3000)]);
        if (!runner.done()) {
          runner.kill('SIGKILL');
          kills++;
        }
        const exit = await runner.exited;
        expect(exit.signal === 'SIGKILL' || exit.code === 0, exit.stderr).toBe(true);
      }
    } finally {
      writing = false;
      await writer;
    }
    await tailUntilCaughtUp(clients, name, cliTailSlice(file, 10));
    return { file, name, rounds: round, kills };
  }

  it('ends equal to the source, byte for byte', { timeout: 300_000 }, seeded('tail-burst', seed)(async () => {
    const { rounds, kills } = await burstWithKills(db, TAIL_ONLY, seededRandom(seed));
    console.log(`[tail-burst] figure: ${rounds} bursts (each ~${DOCS + 600} updates, 600 inserts, deletes, a 50-update transaction), ${kills} kill -9`);
    expect(kills).toBeGreaterThan(0);
    await expectSidesEqual(clients.source, clients.destination, [db]);
  }));

  /**
   * The same with continuous verification on: what the feed and the destination watch leave to the partition
   * comparisons (see frontier.ts), and what the watch reads only once the tail keeps up, must still cover every
   * document. At the end verification is complete and reports one difference: the one planted on the destination.
   */
  it('with continuous verification on, ends verified, and only a planted difference is reported', { timeout: 300_000 }, seeded('tail-burst verified', seed)(async () => {
    const verifiedDb = uniqueName('burstv');
    const { file, name, kills } = await burstWithKills(verifiedDb, 'cutover: { verify: hash, maxLagSeconds: 10 }\n', seededRandom(seed + 1));
    expect(kills).toBeGreaterThan(0);
    await expectSidesEqual(clients.source, clients.destination, [verifiedDb]);
    await clients.destination.db(verifiedDb).collection<Document>('people').updateOne({ _id: 'p7' } as Document, { $set: { planted: true } });
    const state = clients.destination.db('__mongo_live_migrate');
    const confirmed = async (): Promise<Document[]> => state.collection('recheck').find({ m: name, attempts: { $gte: 2 } }).toArray();
    const open = async (): Promise<number> => state.collection('verify_partitions').countDocuments({ migration: name, done: false });
    for (let slice = 0; slice < 12 && ((await open()) > 0 || (await confirmed()).length === 0); slice++) await cliTailSlice(file, 5)();
    expect(await open()).toBe(0);
    const found = await confirmed();
    expect(found.map((e) => ({ t: e.t, id: BSON.deserialize(bytesOf(e.key as Binary))._id, mismatch: e.mismatch }))).toEqual([{ t: `${verifiedDb}.people`, id: 'p7', mismatch: 'content' }]);
  }));

  it('applies a batch of updates whose documents together far exceed the memory budget of a batch', { timeout: 240_000 }, async () => {
    const sdb = clients.source.db(uniqueName('bigdocs'));
    const big = sdb.collection<{ _id: number; blob?: string }>('big');
    // 24 documents of 3 MB: their updates fit one stream batch (no documents in update events), but the
    // documents read back are 72 MB, more than one batch may hold (64 MB) and more than one write command takes.
    // Each is updated more often than a batch applies deltas for one document (a hot document is read back).
    for (let n = 0; n < 24; n++) await big.insertOne({ _id: n, blob: String.fromCharCode(97 + (n % 26)).repeat(3 * 1024 * 1024) });
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('bigdocs').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [sdb.databaseName], TAIL_ONLY);
    const synced = await runRunner(['sync', '--config', file]);
    expect(synced.code, synced.stderr).toBe(0);
    for (let round = 0; round < 6; round++) await big.updateMany({}, { $inc: { touched: new Int32(1) } });
    await big.updateMany({ _id: { $lt: 20 } }, [{ $set: { blob: { $concat: ['$blob', 'z'] } } }]);
    const tail = await runRunner(['tail', '--config', file, '--max-duration', '20s']);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout, 'the documents were read back, not their deltas applied').not.toMatch(/from the update's own delta/);
    await expectSidesEqual(clients.source, clients.destination, [sdb.databaseName]);
    await sdb.dropDatabase();
  });
});
