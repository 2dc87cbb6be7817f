import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { seededRandom } from '../../src/seeded-random.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { collectionDifferences, indexKeys } from '../support/engine.js';
import { expectSidesEqual } from '../support/exact.js';
import { cliTailSlice, runRunner, startRunner, tailUntilCaughtUp, writeMigrationFile } from '../support/runner-process.js';
import { seeded } from '../support/seeded.js';

/**
 * A seeded change-path fuzzer: random data operations (every kind, transactions, _ids of many types and
 * equal-but-different spellings, integer-like field names, a capped and a collated collection) mixed with
 * random DDL (create, drop, rename with and without dropTarget, the swap, index changes), while the runner is
 * killed with SIGKILL at seeded moments during copy, replay and tail. At the end both sides are equal, byte
 * for byte. MLM_SEED reproduces a run; MLM_FUZZ_LONG=1 (npm run reliability) runs it longer.
 */
const seed = Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const long = process.env.MLM_FUZZ_LONG === '1';
const POOL = ['a', 'b', 'c', 'd'];
const IGNORED = new Set([11000, 26, 48, 27, 85, 86, 112, 251]); // dup key, ns missing/exists, index missing/conflict, write conflict, txn aborted

describe('change-path fuzzer: data, DDL and kill -9 mixed', () => {
  const clients = useSharedClients();
  const db = uniqueName('fuzz');
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const figures = { operations: 0, ddl: 0, refused: 0, kills: 0 };

  /** An _id from a small space, in one of the spellings the server takes as equal or not. */
  const anId = (): unknown => {
    const k = Math.floor(random() * 12);
    switch (Math.floor(random() * 7)) {
      case 0: return new Int32(k);
      case 1: return Long.fromNumber(k);
      case 2: return new Double(k);
      case 3: return `s${k}`;
      case 4: return new Map<string, unknown>([['10', k], ['9', 'x']]); // a JS object would put "9" first: another, later _id
      case 5: return { user: random() < 0.5 ? new Int32(k) : Long.fromNumber(k) };
      default: return new ObjectId(`0000000000000000000000${k.toString(16).padStart(2, '0')}`);
    }
  };
  const aDocument = (): Map<string, unknown> =>
    new Map<string, unknown>([
      ['_id', anId()],
      ['byYear', new Map<string, unknown>([['2024', Math.floor(random() * 100)], ['2023', new Double(random())]])],
      ['n', random() < 0.5 ? new Int32(Math.floor(random() * 1000)) : Long.fromNumber(Math.floor(random() * 1000))],
      ['tags', ['x', new Double(1), { '10': 'ten', '9': 'nine' }]],
      // Now and then a large one: the stream then asks for fewer events per read (raw-change-stream.ts READ_BYTES).
      ['pad', 'p'.repeat(random() < 0.01 ? 100_000 + Math.floor(random() * 300_000) : Math.floor(random() * 400))],
    ]);

  /** DDL comes in bursts, as schema changes do; between bursts only data changes (so a plan can settle). */
  let ddlBurst = false;

  async function operate(): Promise<void> {
    const sdb = clients.source.db(db);
    const coll = pick(POOL);
    figures.operations++;
    if (figures.operations % 150 === 0) ddlBurst = random() < 0.5;
    const roll = ddlBurst ? random() : random() * 0.88;
    if (roll < 0.25) {
      await sdb.command({ insert: coll, documents: [aDocument()] });
    } else if (roll < 0.42) {
      const update = pick<Document>([{ $set: { v: random(), 'nested.a': new Int32(1) } }, { $inc: { n: new Int32(1) } }, { $unset: { pad: '' } }, { $push: { arr: { $each: [random()], $slice: -3 } } }]);
      await sdb.command({ update: coll, updates: [{ q: { _id: anId() }, u: update, upsert: random() < 0.3 }] });
    } else if (roll < 0.5) {
      const doc = aDocument();
      await sdb.command({ update: coll, updates: [{ q: { _id: doc.get('_id') }, u: new Map([...doc].filter(([k]) => k !== '_id')), upsert: true }] });
    } else if (roll < 0.6) {
      await sdb.command({ delete: coll, deletes: [{ q: { _id: anId() }, limit: 1 }] });
    } else if (roll < 0.65) {
      // Deleted, then re-inserted under an equal _id of another type.
      const k = Math.floor(random() * 12);
      await sdb.command({ delete: coll, deletes: [{ q: { _id: new Int32(k) }, limit: 1 }] });
      await sdb.command({ insert: coll, documents: [{ _id: Long.fromNumber(k), respelled: true }] });
    } else if (roll < 0.7) {
      const session = clients.source.startSession();
      try {
        await session.withTransaction(async () => {
          await sdb.collection(coll).updateOne({ _id: `s${Math.floor(random() * 12)}` } as Document, { $set: { txn: random() } }, { upsert: true, session });
          await sdb.collection(pick(POOL)).insertOne({ _id: new ObjectId(), txn: true } as Document, { session });
        }, { maxCommitTimeMS: 5000 });
      } finally {
        await session.endSession();
      }
    } else if (roll < 0.78) {
      await sdb.collection('cap').insertMany(Array.from({ length: 1 + Math.floor(random() * 40) }, () => ({ at: random(), byYear: new Map([['2', 1], ['1', 2]]) })));
    } else if (roll < 0.82) {
      await sdb.command({ insert: 'ci', documents: [{ _id: pick(['Ab', 'aB', 'ab', 'AB', 'x', 'X']), v: random() }] });
    } else if (roll < 0.88) {
      // Unique values moved between documents (the source refuses a taken one): applied in parallel, or replayed
      // after a kill onto a later state, they collide on the destination and are resolved from the source. Under a
      // collation (its duplicate's key value is a sort key), and as documents whose names look like integers.
      const change = random() < 0.6 ? { email: pick(['a', 'A', 'b', 'B', 'c', 'C', 'tmp']) } : { profile: new Map<string, unknown>([['x', 'p'], ['10', new Int32(Math.floor(random() * 4))]]) };
      if (random() < 0.5) {
        await sdb.command({ update: 'uq', updates: [{ q: { _id: `u${Math.floor(random() * 8)}` }, u: { $set: change }, upsert: true }] });
        return;
      }
      // Two documents swap their emails in a transaction: the stream's first event collides with the second
      // document's old state wherever the destination's index is unique, on the first apply, not only on a replay.
      const [one, two] = [`u${Math.floor(random() * 8)}`, `u${Math.floor(random() * 8)}`];
      const session = clients.source.startSession();
      try {
        await session.withTransaction(async () => {
          const uq = sdb.collection<Document>('uq');
          const a = await uq.findOne({ _id: one } as Document, { session });
          const b = await uq.findOne({ _id: two } as Document, { session });
          if (!a || !b || one === two || typeof a.email !== 'string' || typeof b.email !== 'string') return;
          await uq.updateOne({ _id: one } as Document, { $unset: { email: '' } }, { session });
          await uq.updateOne({ _id: two } as Document, { $set: { email: a.email } }, { session });
          await uq.updateOne({ _id: one } as Document, { $set: { email: b.email } }, { session });
        }, { maxCommitTimeMS: 5000 });
      } finally {
        await session.endSession();
      }
    } else {
      figures.ddl++;
      await ddl(coll);
    }
  }

  async function ddl(coll: string): Promise<void> {
    const sdb = clients.source.db(db);
    const other = pick(POOL.filter((c) => c !== coll));
    switch (Math.floor(random() * 7)) {
      case 0:
        await clients.source.db('admin').command({ renameCollection: `${db}.${coll}`, to: `${db}.${other}`, dropTarget: random() < 0.5 });
        break;
      case 1:
        await sdb.collection(coll).drop();
        break;
      case 2:
        await sdb.createCollection(coll);
        break;
      case 3:
        // The last a Map: a compound key whose second name looks like an integer (a JS object would put it first).
        await sdb.collection(coll).createIndex(pick<Document>([{ n: 1 }, { v: 1 }, { 'byYear.2024': 1 }, new Map([['v', 1], ['2024', -1]]) as unknown as Document]), { name: pick(['i1', 'i2']) });
        break;
      case 4:
        await sdb.collection(coll).dropIndex(pick(['i1', 'i2']));
        break;
      case 5: {
        // The swap: the new collection takes the live one's name, the live one becomes the old one.
        await sdb.collection(`${coll}_old`).drop().catch(() => undefined);
        await clients.source.db('admin').command({ renameCollection: `${db}.${coll}`, to: `${db}.${coll}_old` });
        await clients.source.db('admin').command({ renameCollection: `${db}.${other}`, to: `${db}.${coll}`, dropTarget: true });
        break;
      }
      default:
        await sdb.command({ collMod: coll, validator: { n: { $exists: true } }, validationLevel: 'moderate', validationAction: 'warn' });
    }
  }

  it('ends equal to the source, byte for byte, after seeded kills in copy, replay and tail', { timeout: long ? 900_000 : 240_000 }, seeded('change-path-fuzz', seed)(async () => {
    const sdb = clients.source.db(db);
    for (const coll of POOL) await sdb.createCollection(coll);
    await sdb.createCollection('cap', { capped: true, size: 256 * 1024, max: 300 });
    await sdb.createCollection('ci', { collation: { locale: 'en', strength: 2 } });
    await sdb.collection('uq').createIndex({ email: 1 }, { name: 'email_ci', unique: true, sparse: true, collation: { locale: 'en', strength: 2 } });
    await sdb.collection('uq').createIndex({ profile: 1 }, { name: 'profile', unique: true, sparse: true });
    for (let i = 0; i < 400; i++) await operate().catch(refused);
    for (const coll of POOL) await sdb.collection(coll).insertMany(Array.from({ length: 3000 }, () => ({ _id: new ObjectId(), seed: random(), pad: 'q'.repeat(300) })), { ordered: false }).catch(refused);

    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('fuzz').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { batchSize: 200, partitionSizeMB: 1, parallelCollections: 2 }\ncutover: { maxLagSeconds: 5 }\n');
    // The source changes under `body` (the seeded mix), until it ends.
    const whileWriting = async (body: () => Promise<void>): Promise<void> => {
      let writing = true;
      const writer = (async () => {
        while (writing) {
          await operate().catch(refused);
          if (random() < 0.05) await sleep(20);
        }
      })();
      try {
        await body();
      } finally {
        writing = false;
        await writer;
      }
    };
    const rounds = long ? 8 : 3;
    // Runners of `command` killed at seeded moments (a slice may end by itself first).
    const killedRunners = async (command: 'sync' | 'tail'): Promise<void> => {
      for (let round = 0; round < rounds; round++) {
        const runner = startRunner([command, '--config', file, '--force-takeover', ...(command === 'tail' ? ['--max-duration', '60s'] : [])]);
        await Promise.race([runner.exited, sleep(500 + random() * 4000)]);
        if (!runner.done()) {
          runner.kill('SIGKILL');
          figures.kills++;
        }
        const exit = await runner.exited;
        expect(exit.signal === 'SIGKILL' || exit.code === 0, exit.stderr).toBe(true);
      }
    };
    const drain = (): Promise<number> => tailUntilCaughtUp(clients, name, cliTailSlice(file, 5, ['--force-takeover']));
    await whileWriting(async () => {
      await killedRunners('sync');
      const finished = await runRunner(['sync', '--config', file, '--force-takeover']);
      expect(finished.code, finished.stderr).toBe(0);
      await killedRunners('tail');
    });
    // Drain: after many kills the backlog can outlast one short slice.
    await drain();
    // Then again with the destination's unique indexes unique (converted once a tail kept up): replays after the kills
    // now meet duplicate keys on the destination, resolved from the source.
    const uniqueNow = async (): Promise<boolean> => (await clients.destination.db(db).collection('uq').listIndexes().toArray()).filter((i) => i.unique === true).length === 2;
    for (let slice = 0; slice < 6 && !(await uniqueNow()); slice++) await cliTailSlice(file, 5, ['--force-takeover'])();
    expect(await uniqueNow(), 'the unique indexes of uq are unique on the destination before the second round').toBe(true);
    await whileWriting(() => killedRunners('tail'));
    await drain();
    console.log(`[change-path-fuzz] figure: ${figures.operations} operations (${figures.ddl} DDL, ${figures.refused} refused by the source), ${figures.kills} kill -9`);
    try {
      await expectSidesEqual(clients.source, clients.destination, [db]);
    } catch (error) {
      // What differs, document by document: the part of a CI log that lets a mismatch be chased without a rerun.
      for (const coll of (await sdb.listCollections({ type: 'collection' }, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => !n.startsWith('system.'))) {
        const differences = await collectionDifferences(clients.source, clients.destination, db, coll);
        if (differences.length) console.log(`[change-path-fuzz] ${coll} differs:\n${differences.join('\n')}`);
      }
      throw error;
    }
    for (const coll of (await sdb.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => !n.startsWith('system.'))) {
      expect(await indexKeys(clients.destination, db, coll), coll).toEqual(await indexKeys(clients.source, db, coll));
    }
  }));

  function refused(error: unknown): void {
    const code = Number((error as { code?: unknown }).code);
    if (!IGNORED.has(code) && !(error as Error).message?.includes('TransientTransactionError')) throw error;
    figures.refused++;
  }
});
