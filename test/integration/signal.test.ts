import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document, MongoClient } from 'mongodb';
import type { CommandOutcome } from '../../src/model.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes } from '../support/engine.js';
import { runRunner, startRunner, StateWatch, writeMigrationFile } from '../support/runner-process.js';

/**
 * tail in a real process: SIGTERM (a cancelled CI job) and SIGINT (Ctrl-C) end it with exit 0 after the
 * position is saved; the next tail continues from that position: it applies exactly what was written
 * since, not everything again.
 */
describe('tail stops on SIGTERM / SIGINT with its position saved', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('signal');
  const name = uniqueName('signal').replace(/_/g, '-');
  let file = '';
  let next = 0;

  /** Inserts `count` new documents, `perSecond` a second. */
  async function insert(count: number, perSecond = 200): Promise<void> {
    for (let i = 0; i < count; i += 20) {
      await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 20 }, (): Document => ({ _id: next++, at: new Date() })));
      await sleep((20 / perSecond) * 1000);
    }
  }

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    await source.db(db).createCollection('c');
    await insert(1000, 1e6);
    file = writeMigrationFile(name, sourceUri, destinationUri, [db]);
    const sync = await runRunner(['sync', '--config', file]);
    expect(sync.code, sync.stderr).toBe(0);
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s: exit 0, position saved, the next tail continues from it', async (signal) => {
    const watch = new StateWatch(destination, name);
    const before = (await watch.doc())!;
    const tail = startRunner(['tail', '--config', file, '--max-duration', '60s', '--json']);
    expect(await watch.until(tail, (doc) => Boolean(doc?.lease?.owner.endsWith(`/${tail.child.pid}`)), 30_000)).toBe(true);
    const during = next;
    await insert(400);
    const sentAt = Date.now();
    console.log(`[signal] sending ${signal} to ${tail.child.pid} at ${new Date(sentAt).toISOString()}`);
    tail.kill(signal);
    const exit = await tail.exited;
    const stoppedMs = Date.now() - sentAt;
    expect(exit.code, exit.stderr).toBe(0);
    expect(stoppedMs, exit.stderr).toBeLessThan(5000);
    const outcome = JSON.parse(exit.stdout) as CommandOutcome;
    expect(outcome.summary).toMatch(/stopped by a signal/);
    const stopped = (await watch.doc())!;
    expect(stopped.lease).toBeNull();
    expect(stopped.applied?.token).toBeDefined();
    expect(stopped.applied?.token).not.toEqual(before.applied?.token);
    // The stopped tail applied a prefix of the changes in order (it may stop before the newest ones: a
    // signal ends the run, it does not drain), and its saved position is exactly the end of that prefix.
    const c = destination.db(db).collection('c');
    const appliedByFirst = await c.countDocuments({ _id: { $gte: during, $lt: next } } as Document);
    expect(appliedByFirst).toBeGreaterThan(0);
    expect(await c.countDocuments({ _id: { $gte: during, $lt: during + appliedByFirst } } as Document)).toBe(appliedByFirst);

    // Written while no tail runs; the next one applies exactly what the first did not (it resumes from the
    // saved position: it neither starts over nor skips).
    await insert(300, 1e6);
    // Short slices until the rest has arrived (under a loaded machine one 4 s slice may end before its first
    // batch): together they apply exactly the rest, not more (no replay of what the first applied) and not less.
    let applied = 0;
    for (let slices = 0; slices < 5 && (slices === 0 || (await destination.db(db).collection('c').countDocuments()) < next); slices++) {
      const second = await runRunner(['tail', '--config', file, '--max-duration', '4s', '--json']);
      expect(second.code, second.stderr).toBe(0);
      applied += Number(/(\d+) changes applied/.exec((JSON.parse(second.stdout) as CommandOutcome).summary)?.[1]);
    }
    expect(applied).toBe(next - during - appliedByFirst);
    expect(await destination.db(db).collection('c').countDocuments()).toBe(next);
    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dst.c).toBe(src.c);
    console.log(`[signal] ${signal}: stopped in ${stoppedMs} ms having applied ${appliedByFirst} of ${next - during - 300} changes; the next tail applied ${applied}`);
  });
});
