import { describe, expect, it } from 'vitest';
import { BSON, Int32, type Document } from 'mongodb';
import { DeltaMissed, unorderedJobs, type Destination, type Write } from '../../src/engine/apply/raw-writes.js';
import { diffStatements } from '../../src/engine/apply/update-diff.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

/**
 * The writes of a small batch to one collection go as few commands: puts, update deltas and a few inserts in one
 * unordered update command, deletes in another (apply/raw-writes.ts unorderedJobs). In that command a put refused by
 * a unique index and a delta that finds no document can meet: the refusal goes to the duplicate-key resolution,
 * which runs the job again, and the delta that missed must still be named afterwards (it inserted a document of its
 * own fields alone, which a second run would take for applied), while no delta is sent twice.
 */
describe('puts, deltas and few inserts in one update command', () => {
  const clients = useSharedClients();
  const db = uniqueName('updcmd');

  const key = (id: number): Buffer => Buffer.from(BSON.serialize({ _id: id }));
  const doc = (d: Document): Buffer => Buffer.from(BSON.serialize(d));
  const delta = (id: number, q: number): Write => ({
    kind: 'upd',
    key: key(id),
    statements: diffStatements(doc({ $v: 2, diff: { u: { q: new Int32(q) } } }))!,
    origin: id,
  });

  it('a refused put and a missed delta in one command: the put is resolved, the delta named once, nothing sent twice', async () => {
    const { destination } = clients;
    const target = { db, coll: 'items' };
    const coll = destination.db(db).collection<{ _id: number; email: string; q: Int32 }>('items');
    await coll.insertMany([
      { _id: 1, email: 'a', q: new Int32(0) },
      { _id: 2, email: 'b', q: new Int32(0) },
      { _id: 7, email: 'g', q: new Int32(0) },
    ]);
    await coll.createIndex({ email: 1 }, { unique: true });
    const commands: { kind: string; statements: number }[] = [];
    const dest: Destination = { client: destination, acknowledged: () => undefined, timed: (kind, statements) => commands.push({ kind, statements }) };
    const writes: Write[] = [
      { kind: 'put', key: key(4), doc: doc({ _id: 4, email: 'a', q: new Int32(4) }) }, // refused: _id 1 holds 'a'
      { kind: 'put', key: key(5), doc: doc({ _id: 5, email: 'e', q: new Int32(5) }) },
      { kind: 'new', key: key(6), doc: doc({ _id: 6, email: 'f', q: new Int32(6) }) },
      delta(2, 1), // applies
      delta(3, 1), // misses: the destination has no _id 3
      { kind: 'del', key: key(7) },
    ];
    const jobs = unorderedJobs(dest, target, writes, 50);
    expect(jobs, 'one update command and one delete command').toHaveLength(2);

    const first = await jobs[0]!(() => false).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((first as { code?: number }).code, String(first)).toBe(11000);
    expect(((first as { duplicates: { key: Buffer }[] }).duplicates ?? []).map((d) => d.key)).toEqual([key(4)]);
    expect(commands).toEqual([{ kind: 'put+upd', statements: 5 }]);

    // As resolve-duplicates.ts runs it again: the refused document was settled from the source, so it is left out.
    const second = await jobs[0]!((w) => w.key.equals(key(4))).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(second, String(second)).toBeInstanceOf(DeltaMissed);
    expect((second as DeltaMissed).writes.map((w) => w.origin)).toEqual([3]);
    expect(commands[1], 'the second run sends the puts again and no delta').toEqual({ kind: 'put', statements: 2 });
    // A third run (another refusal elsewhere resolved) has nothing left to say.
    await jobs[0]!((w) => w.key.equals(key(4)));

    await jobs[1]!(() => false);
    const after = await coll.find({}, { promoteValues: false }).sort({ _id: 1 }).toArray();
    expect(after.map((d) => [Number(d._id), d.q])).toEqual([
      [1, new Int32(0)],
      [2, new Int32(1)],
      [3, new Int32(1)], // the missed delta's own fields: the caller writes it from the source (DeltaMissed)
      [5, new Int32(5)],
      [6, new Int32(6)],
    ]);
  });

  it('many inserts keep their insert command; deletes keep theirs', async () => {
    const { destination } = clients;
    const target = { db, coll: 'many' };
    const commands: string[] = [];
    const dest: Destination = { client: destination, acknowledged: () => undefined, timed: (kind) => commands.push(kind) };
    const inserts: Write[] = Array.from({ length: 20 }, (_, i) => ({ kind: 'new', key: key(i), doc: doc({ _id: i, q: new Int32(i) }) }));
    const jobs = unorderedJobs(dest, target, [...inserts, { kind: 'put', key: key(100), doc: doc({ _id: 100 }) }], 50);
    expect(jobs).toHaveLength(2);
    for (const job of jobs) await job(() => false);
    expect(commands.sort()).toEqual(['new', 'put']);
    expect(await destination.db(db).collection('many').countDocuments()).toBe(21);
  });
});
