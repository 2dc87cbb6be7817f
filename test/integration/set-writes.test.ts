import { describe, expect, it } from 'vitest';
import { Binary, BSON, Decimal128, Double, Int32, Long, MinKey, ObjectId, Timestamp, type AnyBulkWriteOperation, type Document } from 'mongodb';
import { DeltaMissed, type DeltaWrite } from '../../src/engine/apply/raw-writes.js';
import { setWriteJobs } from '../../src/engine/apply/set-writes.js';
import { diffStatements } from '../../src/engine/apply/update-diff.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { runRunner, tailUntilCaughtUp, writeMigrationFile, type RunnerExit } from '../support/runner-process.js';

/**
 * A batch job's deletes and updates are written several documents to a statement (apply/set-writes.ts): deletes by
 * `_id: {$in}`, one update statement for documents that got the same one, and a pipeline that sets each document's
 * own values where the updates set the same top-level fields (an `$inc` over many documents). The values go through
 * the server's expression engine there, so every plain scalar type is set, with the doubles a round trip could
 * change (-0.0, NaN, infinities, integral values) and strings an expression would read as paths; values that are not
 * plain scalars take one statement each beside them. Two documents the destination lacks make their set statement
 * fall back to one statement each; a runner killed after the sets landed, before the position covering them was
 * saved, applies them again. Both sides end equal byte for byte.
 */
const DOCS = 600;

/** Distinct _ids of several types (none equal to another for the server). */
function idOf(i: number): unknown {
  switch (i % 4) {
    case 0:
      return new Int32(i);
    case 1:
      return Long.fromNumber(i);
    case 2:
      return `s-${i}`;
    default:
      return new ObjectId(i.toString(16).padStart(24, '0'));
  }
}

const VALUES: unknown[] = [
  new Double(-0),
  new Double(NaN),
  new Double(Infinity),
  new Double(-Infinity),
  new Double(2),
  new Int32(-7),
  Long.fromString('9007199254740993'),
  Decimal128.fromString('1.10'),
  Decimal128.fromString('-0'),
  '$_id',
  '$$i',
  '',
  'x'.repeat(1000),
  new Binary(Buffer.from('0123456789abcdef'), 4),
  new ObjectId(),
  true,
  new Date(0),
  null,
  // Not plain scalars: one statement each.
  new Timestamp({ t: 1, i: 2 }),
  new MinKey(),
  { nested: new Int32(1), $weird: 'literal' },
];

function summary(exit: RunnerExit): string {
  return `${exit.stdout}\n${exit.stderr}`;
}

describe('a batch job written several documents to a statement', () => {
  const clients = useSharedClients();
  const db = uniqueName('sets');

  it('deletes, one update for many, and per-document values end byte for byte, fall back, and survive a kill', { timeout: 240_000 }, async () => {
    const { source, destination } = clients;
    const items = source.db(db).collection('items');
    await items.insertMany(
      Array.from({ length: DOCS }, (_, i): Document => ({ _id: idOf(i), n: new Int32(i), qty: new Int32(i), price: new Double(i + 0.25), kind: i % 3 ? 'a' : 'b', email: `u${i}@x.org`, v: new Int32(0), w: new Int32(0), status: 'new', flag: 0, pad: 'p'.repeat(300) })),
    );
    await items.createIndex({ email: 1 }, { unique: true });
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('sets').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'cutover: { verify: count }\n');
    const synced = await runRunner(['sync', '--config', file]);
    expect(synced.code, synced.stderr).toBe(0);

    // Each document written once a round, so that each takes the set statement of its kind.
    const batchJob = async (round: number): Promise<void> => {
      // An $inc over many documents: each its own value (a pipeline statement).
      await items.updateMany({ kind: 'b' }, { $inc: { qty: new Int32(1) }, $set: { status: `round-${round}` } });
      // The same update for many documents (one update statement).
      await items.updateMany({ kind: 'a', n: { $gte: 240, $lt: DOCS - 80 } }, { $set: { flag: round } });
      // Values of every type set one document at a time, the same field names (a pipeline statement, and single statements).
      const perDocument: AnyBulkWriteOperation<Document>[] = Array.from({ length: 240 }, (_, i) => i)
        .filter((i) => i % 3 !== 0)
        .map((i) => ({ updateOne: { filter: { n: new Int32(i) }, update: { $set: { v: VALUES[(i + round) % VALUES.length], w: new Int32(i + round) } } } }));
      await items.bulkWrite(perDocument, { ordered: false });
      // A deleteMany (deletes by _id: {$in}).
      await items.deleteMany({ kind: 'a', n: { $gte: DOCS - 120 + 40 * round, $lt: DOCS - 80 + 40 * round } });
    };
    const tail = (env: Record<string, string> = {}): Promise<RunnerExit> => runRunner(['tail', '--config', file, '--max-duration', '20s', '--force-takeover'], env);
    const figures = { grouped: 0, missed: 0 };
    const tailToTheEnd = async (): Promise<void> => {
      await tailUntilCaughtUp(clients, name, async () => {
        const exit = await tail();
        expect(exit.code, exit.stderr).toBe(0);
        figures.grouped += Number(/(\d+) documents? written by/.exec(summary(exit))?.[1] ?? 0);
        figures.missed += Number(/(\d+) of them read back from the source/.exec(summary(exit))?.[1] ?? 0);
      });
    };

    // Two documents the destination lacks: the set statements naming them match fewer than they name.
    await destination.db(db).collection('items').deleteMany({ n: { $in: [new Int32(10), new Int32(11)] } });
    await batchJob(1);
    await tailToTheEnd();
    await expectSidesEqual(source, destination, [db]);
    expect(figures.grouped, 'documents written several to a statement').toBeGreaterThan(DOCS / 2);
    expect(figures.missed, 'the two documents the destination lacked, read back from the source').toBeGreaterThanOrEqual(2);

    // Killed after the sets landed, before the position that covers them was saved: the next runner applies them again.
    await batchJob(2);
    const killed = await tail({ MLM_FAILPOINT: 'tail:batch-applied#1' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    await tailToTheEnd();
    await expectSidesEqual(source, destination, [db]);
    const v = await destination.db(db).collection('items').findOne({ n: new Int32(1) }, { promoteValues: false });
    expect(v?.v).toEqual(VALUES[3]);
  });

  it('a set that misses and the few left beside it are all written one statement each, and every miss is named', async () => {
    const { destination } = clients;
    const target = { db, coll: 'direct' };
    const coll = destination.db(db).collection<Document>('direct');
    await coll.insertMany(Array.from({ length: 127 }, (_, i): Document => ({ _id: i, q: new Int32(0) })));
    // Missing on the destination: one in the first set of 125, one among the two left after it.
    await coll.deleteMany({ _id: { $in: [3, 126] } } as Document);
    const writes: DeltaWrite[] = Array.from({ length: 127 }, (_, i) => ({
      kind: 'upd',
      key: Buffer.from(BSON.serialize({ _id: i })),
      statements: diffStatements(Buffer.from(BSON.serialize({ $v: 2, diff: { u: { q: new Int32(i + 1) } } })))!,
      origin: i,
    }));
    expect(writes[0]!.statements[0]!.fields).toBeDefined();
    const { jobs, rest } = setWriteJobs({ client: destination, acknowledged: () => undefined }, target, writes, 500);
    expect(rest).toHaveLength(0);
    const missed: number[] = [];
    for (const job of jobs) {
      await job(() => false).catch((error: unknown) => {
        if (!(error instanceof DeltaMissed)) throw error;
        missed.push(...error.writes.map((w) => w.origin as number));
      });
    }
    expect(missed.sort((a, b) => a - b)).toEqual([3, 126]);
    const docs = await coll.find({ _id: { $nin: [3, 126] } } as Document, { promoteValues: false }).toArray();
    expect(docs).toHaveLength(125);
    for (const doc of docs) expect(doc.q, String(doc._id)).toEqual(new Int32(Number(doc._id) + 1));
  });
});
