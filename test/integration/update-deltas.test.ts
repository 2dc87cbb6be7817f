import { describe, expect, it } from 'vitest';
import { Decimal128, Double, Int32, Long, type Document } from 'mongodb';
import { seededRandom } from '../../src/seeded-random.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { runRunner, tailUntilCaughtUp, writeMigrationFile, type RunnerExit } from '../support/runner-process.js';

/**
 * Updates applied from their own delta (apply/update-diff.ts) where the destination holds the pre-image
 * (apply/read-horizon.ts): operator updates of every shape, pipeline updates that append fields out of order and
 * that move fields to the end, a hot document, a transaction, inserts and deletes among them; then runners killed
 * with SIGKILL after their deltas landed and before the position covering them was saved, so that the next runner
 * applies the same deltas to a later state. Both sides end equal, byte for byte, the deltas were really used, and
 * none missed its document while nothing was killed (a miss there would mean the destination was not as known).
 */
const seed = Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DOCS = 400;

/** "N updates from the update's own delta (M of them read back from the source)" from a tail's summary. */
function deltaFigures(exit: RunnerExit): { applied: number; missed: number } {
  const text = `${exit.stdout}\n${exit.stderr}`;
  const applied = /(\d+) updates? from the update's own delta/.exec(text);
  const missed = /(\d+) of them read back from the source/.exec(text);
  return { applied: Number(applied?.[1] ?? 0), missed: Number(missed?.[1] ?? 0) };
}

describe('updates applied from their own delta', () => {
  const clients = useSharedClients();
  const db = uniqueName('delta');
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (n: number): number => Math.floor(random() * n);

  const aDocument = (id: number): Document => ({
    _id: id % 2 ? new Int32(id) : Long.fromNumber(id),
    n: new Int32(id),
    price: new Double(id + 0.5),
    total: Decimal128.fromString(`${id}.10`),
    byYear: new Map<string, unknown>([['2024', new Int32(id)], ['2023', new Double(1)], ['10', 'ten'], ['9', 'nine']]),
    nested: { a: { b: { c: new Int32(1) } }, list: [{ k: new Int32(1) }, { k: Long.fromNumber(2) }] },
    tags: ['x', 'y', new Double(3), new Int32(4)],
    // Large enough that the source logs deltas rather than whole documents.
    pad: 'p'.repeat(600),
  });

  /** One update of a random shape; the server may refuse a few (a path through a scalar): those are skipped. */
  const anUpdate = (): Document | Document[] =>
    pick<() => Document | Document[]>([
      () => ({ $set: { [`f${int(5)}`]: new Int32(int(100)), 'nested.a.b.c': Long.fromNumber(int(9)) } }),
      () => ({ $inc: { n: new Int32(1) }, $mul: { price: new Double(1.5) } }),
      () => ({ $unset: { [`f${int(5)}`]: '' } }),
      () => ({ $set: { 'byYear.2025': new Int32(int(9)), 'byYear.10': 'TEN' } }),
      () => ({ $push: { tags: { $each: [int(50), 'z'], $slice: -6 } } }),
      () => ({ $push: { tags: { $each: ['first'], $position: 0 } } }),
      () => ({ $pull: { tags: 'x' } }),
      () => ({ $pop: { tags: pick([1, -1]) } }),
      () => ({ $addToSet: { tags: pick(['x', 'y', 'w']) } }),
      () => ({ $set: { [`tags.${int(8)}`]: 'at' } }),
      () => ({ $set: { 'nested.list.1.k': new Int32(int(5)), 'nested.list.0.extra': true } }),
      () => ({ $rename: { [`f${int(5)}`]: `g${int(5)}` } }),
      () => ({ $min: { n: new Int32(int(400)) }, $max: { price: new Double(int(900)) }, $currentDate: { touched: true } }),
      // Pipelines: new fields appended out of name order (several statements), and moves (a fallback).
      () => [{ $set: { zz: new Int32(int(9)), yy: '$n', xx: { $literal: { q: 1, a: 2 } } } }],
      () => [{ $unset: 'price' }, { $set: { price: new Double(int(9)) } }],
      () => [{ $set: { tags: { $reverseArray: '$tags' }, nested: { list: '$nested.list', a: '$nested.a' } } }],
      () => [{ $replaceWith: { $mergeObjects: ['$$ROOT', { late: int(3) }] } }],
    ])();

  it(`apply byte for byte, moved fields included, and survive kills (seed ${seed})`, { timeout: 300_000 }, async () => {
    const { source, destination } = clients;
    const items = source.db(db).collection('items');
    await items.insertMany(Array.from({ length: DOCS }, (_, id) => aDocument(id)));
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('delta').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'tail: { batchSize: 200 }\ncutover: { verify: count }\n');
    const synced = await runRunner(['sync', '--config', file]);
    expect(synced.code, synced.stderr).toBe(0);

    const figures = { updates: 0, refused: 0, applied: 0, missed: 0, kills: 0 };
    const workload = async (rounds: number): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        const id = int(DOCS);
        const _id = id % 2 ? new Int32(id) : Long.fromNumber(id);
        const roll = random();
        try {
          if (roll < 0.8) {
            await items.updateOne({ _id } as Document, anUpdate());
            figures.updates++;
          } else if (roll < 0.87) {
            // A hot document: many updates in one batch.
            for (let k = 0; k < 12; k++) await items.updateOne({ _id: new Int32(1) } as Document, { $inc: { n: new Int32(1) }, $set: { [`h${k % 3}`]: k } });
          } else if (roll < 0.93) {
            await items.deleteOne({ _id } as Document);
            await items.insertOne(aDocument(id));
          } else {
            const session = source.startSession();
            try {
              await session.withTransaction(async () => {
                for (let k = 0; k < 5; k++) await items.updateOne({ _id: new Int32(2 * int(DOCS / 2) + 1) } as Document, anUpdate(), { session });
              });
            } finally {
              await session.endSession();
            }
          }
        } catch {
          figures.refused++;
        }
      }
    };

    // Deltas applied by a tail that runs to the end.
    await workload(600);
    const tail = async (env: Record<string, string> = {}): Promise<RunnerExit> => runRunner(['tail', '--config', file, '--max-duration', '20s', '--force-takeover'], env);
    await tailUntilCaughtUp(clients, name, async () => {
      const exit = await tail();
      expect(exit.code, exit.stderr).toBe(0);
      const seen = deltaFigures(exit);
      figures.applied += seen.applied;
      figures.missed += seen.missed;
    });
    await expectSidesEqual(source, destination, [db]);
    expect(figures.applied, 'updates applied from their delta').toBeGreaterThan(figures.updates / 4);
    expect(figures.missed, 'deltas that did not find their document as known').toBe(0);

    // Killed after deltas landed and before the position that covers them was saved: the next runner applies them again.
    for (const point of ['tail:batch-applied#1', 'tail:batch-applied#2', 'tail:batch-applied#3']) {
      await workload(400);
      const killed = await tail({ MLM_FAILPOINT: point });
      expect(killed.signal, `${point}: ${killed.stderr}`).toBe('SIGKILL');
      figures.kills++;
      await tailUntilCaughtUp(clients, name, async () => {
        const exit = await tail();
        expect(exit.code, exit.stderr).toBe(0);
      });
      await expectSidesEqual(source, destination, [db]);
    }
    console.log(`update deltas (seed ${seed}): ${JSON.stringify(figures)}`);
  });
});
