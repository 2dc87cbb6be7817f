import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Double, Int32, Long, ObjectId, type Document, type MongoClient } from 'mongodb';
import type { MigrationDoc, PartitionDoc } from '../../src/engine/state/types.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { runSync } from '../../src/commands/sync.js';
import { collectionDifferences, dbHashes, everyTypeDocument, indexKeys, rawHash, testConfig, testPorts, Writer } from '../support/engine.js';
import { seededRandom } from '../../src/seeded-random.js';
import { cliTailSlice, runRunner, startRunner, StateWatch, tailUntilCaughtUp, writeMigrationFile, type Runner } from '../support/runner-process.js';
import { seeded } from '../support/seeded.js';

/**
 * kill -9 of a real runner (the CLI in a child process) at seeded pseudo-random moments in the copy, the
 * replay, the catch-up and the tail, with writers on the source all along. Every rerun must continue where
 * the last one stopped (finished partitions are never copied again) and the end state must equal the source.
 * Reproduce a run with MLM_CRASH_SEED=<seed printed below>.
 */
type Stage = 'copy' | 'replay' | 'catch-up' | 'tail';
const RANK: Record<Stage, number> = { copy: 0, replay: 1, 'catch-up': 2, tail: 3 };

function stageOf(doc: MigrationDoc | null): Stage {
  if (doc?.phase === 'tailing') return 'tail';
  if (doc?.step === 'replay' || doc?.step === 'catch-up') return doc.step;
  return 'copy';
}

describe('kill -9 at seeded points in copy, replay and tail', () => {
  let source: MongoClient;
  let destination: MongoClient;
  let writer: Writer | undefined;
  const db = uniqueName('crash');
  const name = uniqueName('crash').replace(/_/g, '-');
  const seed = Number(process.env.MLM_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let file = '';

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    const sdb = source.db(db);
    for (const coll of ['items', 'mixed', 'w']) await sdb.createCollection(coll);
    await sdb.createCollection('log', { capped: true, size: 4 * 1024 * 1024 });
    // ~9 MB in `items`: with partitionSizeMB 1 about 8 partitions, copied in small batches.
    const items: Document[] = Array.from({ length: 60_000 }, (_, i) => ({ _id: i, sku: `sku-${i}`, n: new Int32(i % 100), price: new Double(i), pad: 'p'.repeat(80) }));
    for (let i = 0; i < items.length; i += 10_000) await sdb.collection('items').insertMany(items.slice(i, i + 10_000));
    await sdb.collection('items').createIndexes([{ key: { sku: 1 }, unique: true, name: 'sku_unique' }, { key: { n: 1, price: -1 }, name: 'n_price' }]);
    const mixed: Document[] = [];
    for (let i = 0; i < 500; i++) mixed.push({ _id: new ObjectId(), i }, { _id: `s${i}`, i }, { _id: Long.fromNumber(1_000_000 + i), i });
    mixed.push(everyTypeDocument({ compound: 1 }), everyTypeDocument(new Date(-86_400_000)));
    await sdb.collection('mixed').insertMany(mixed);
    await sdb.collection('log').insertMany(Array.from({ length: 2000 }, (_, i) => ({ seq: i, pad: 'l'.repeat(100) })));
    file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { batchSize: 250, partitionSizeMB: 1, parallelCollections: 2 }\ncutover: { maxLagSeconds: 5 }\n');
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await source?.close();
    await destination?.close();
  });

  // Twelve kill -9 and their reruns: about 100 s on a quiet machine (replay now reads every update's document
  // back from the source); the default 120 s left no margin.
  it('every rerun continues, nothing is copied twice, and the sides end equal', { timeout: 240_000 }, seeded('crash-resume', seed, 'MLM_CRASH_SEED')(async () => {
    const random = seededRandom(seed);
    const watch = new StateWatch(destination, name);
    writer = new Writer(sharedClusters().sourceUri, db, ['items', 'w', 'mixed'], { idSpace: 400 });
    writer.start(3);

    // Twelve seeded kill points here plus the eight cutover steps of cutover.test.ts: twenty in the suite.
    const plan: Stage[] = ['copy', 'copy', 'copy', 'copy', 'replay', 'catch-up', 'tail', 'tail', 'tail', 'tail', 'tail', 'tail'];
    const kills: { stage: Stage; at: string; runMs: number }[] = [];
    const t0 = Date.now();
    const attempt = async (target: Stage): Promise<void> => {
      const current = stageOf(await watch.doc());
      // The previous run went further than this target: no kill point left for it.
      if (RANK[current] > RANK[target]) return;
      if (target === 'tail' && current !== 'tail') await finishSync();
      const tailing = target === 'tail';
      const partitionsBefore = await watch.partitions();
      const donePartitions = new Map(partitionsBefore.filter((p) => p.done).map((p) => [p._id, p.documentsCopied]));
      const copiedBefore = partitionsBefore.reduce((sum, p) => sum + p.documentsCopied, 0);
      const runner = startRunner(tailing ? ['tail', '--config', file, '--force-takeover', '--max-duration', '60s'] : ['sync', '--config', file, '--force-takeover']);
      const started = Date.now();
      // Kill moments count from when this runner holds the lease (process start-up is not part of the run).
      await watch.until(runner, (doc) => Boolean(doc?.lease?.owner.endsWith(`/${runner.child.pid}`)), 30_000, 10);
      const reached = await waitForKillPoint(watch, runner, target, random);
      if (reached && !runner.done()) runner.kill('SIGKILL');
      const exit = await runner.exited;
      // A runner can finish between the check and the signal (CI saw a catch-up end there, exit 0): no kill then.
      if (exit.signal === 'SIGKILL') {
        const doc = await watch.doc();
        const stage = stageOf(doc);
        const where = `${doc?.phase ?? '-'}/${doc?.step ?? '-'} partitions ${(await watch.partitions()).filter((p) => p.done).length} done, replay.nextSeq ${doc?.replay.nextSeq ?? 0}`;
        kills.push({ stage, at: where, runMs: Date.now() - started });
        console.log(`[crash-resume] kill -9 #${kills.length} aiming at ${target}, after ${Date.now() - started} ms: ${where}`);
      } else {
        expect(exit.code, exit.stderr).toBe(0);
        console.log(`[crash-resume] run aiming at ${target} finished before its kill point (${exit.ms} ms)`);
      }
      // Partitions finished before this run were not copied again by it, and no progress was lost.
      const after = new Map((await watch.partitions()).map((p) => [p._id, p]));
      const copiedAfter = [...after.values()].reduce((sum, p) => sum + p.documentsCopied, 0);
      expect(copiedAfter).toBeGreaterThanOrEqual(copiedBefore);
      for (const [id, copied] of donePartitions) {
        expect(after.get(id)?.done, id).toBe(true);
        expect(after.get(id)?.documentsCopied, `${id} copied again`).toBe(copied);
      }
    };
    for (const target of plan) await attempt(target);
    // A seed whose early runs overshot their stage leaves kill points unused; tail kills always land: top up.
    for (let extra = 0; kills.length < plan.length && extra < plan.length; extra++) await attempt('tail');
    await finishSync();

    const acknowledged = await writer.stop();
    expect(acknowledged).toBeGreaterThan(200);
    // Uninterrupted tail slices drain what the writers did until they stopped: until the saved position passes
    // the source's last write (one fixed slice could end short of it on a loaded machine, and the comparison
    // would then report a destination that is only behind).
    const slices = await tailUntilCaughtUp({ source, destination }, name, cliTailSlice(file, 8, ['--force-takeover']));
    console.log(`[crash-resume] ${kills.length} kills (${kills.map((k) => k.stage).join(', ')}), ${acknowledged} writes, ${slices} final slice(s), ${Date.now() - t0} ms`);
    expect(kills.length).toBe(plan.length);
    expect(kills.filter((k) => k.stage === 'copy').length).toBeGreaterThanOrEqual(2);
    expect(kills.filter((k) => k.stage === 'tail').length).toBeGreaterThanOrEqual(6);
    expect(kills.some((k) => k.stage === 'replay' || k.stage === 'catch-up')).toBe(true);

    const [srcHashes, dstHashes] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    for (const coll of ['items', 'mixed', 'w']) {
      expect(await destination.db(db).collection(coll).countDocuments(), `${coll} count`).toBe(await source.db(db).collection(coll).countDocuments());
      if (dstHashes[coll] !== srcHashes[coll]) console.log(`[crash-resume] ${coll} differs:\n${(await collectionDifferences(source, destination, db, coll)).join('\n')}`);
      expect(dstHashes[coll], `${coll} content`).toBe(srcHashes[coll]);
    }
    expect(await rawHash(destination, db, 'log')).toEqual(await rawHash(source, db, 'log'));
    expect(await indexKeys(destination, db, 'items')).toEqual(await indexKeys(source, db, 'items'));
    // Counted once each: the copy's counters did not grow with re-inserted batches.
    const partitions = await watch.partitions();
    const items = partitions.filter((p) => p.source === `${db}.items` && p.typeClass === 'number');
    expect(items.reduce((sum, p) => sum + p.documentsCopied, 0)).toBe(60_000);
    const state = (await watch.doc())!;
    expect(state.phase).toBe('tailing');
    expect(state.resyncRequired).toBeUndefined();
  }));

  it('a partition plan cut short by a crash is made again, not taken as complete', async () => {
    const planDb = uniqueName('plan');
    await source.db(planDb).createCollection('c');
    await source.db(planDb).collection<Document>('c').insertMany(Array.from({ length: 20_000 }, (_, i): Document => ({ _id: i, pad: 'q'.repeat(120) })));
    const config = testConfig(uniqueName('plan').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [planDb], 'sync: { batchSize: 500, partitionSizeMB: 1 }\n');
    // A run stopped before copying anything: targets created, partitions recorded.
    const stopped = new AbortController();
    stopped.abort();
    expect((await runSync(config, {}, testPorts('plan-1', stopped.signal))).continue).toBe(true);
    const watch = new StateWatch(destination, config.name);
    const planned = await watch.partitions();
    expect(planned.length).toBeGreaterThanOrEqual(2);
    expect(planned.every((p) => p.documentsCopied === 0)).toBe(true);
    // What a runner killed half-way through recording the plan leaves: some partitions, no flag.
    await watch.store.partitions.deleteMany({ _id: { $in: planned.slice(1).map((p) => p._id) } });
    await watch.store.migrations.updateOne({ _id: config.name }, { $unset: { 'collections.$[].partitioned': '' } });
    const resumed = await runSync(config, {}, testPorts('plan-2'));
    expect(resumed.exitCode).toBe(0);
    expect(await destination.db(planDb).collection('c').countDocuments()).toBe(20_000);
    expect((await watch.partitions()).reduce((sum, p) => sum + p.documentsCopied, 0)).toBe(20_000);
  });

  /** Runs sync without a kill until it reaches tailing. */
  async function finishSync(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const doc = await new StateWatch(destination, name).doc();
      if (doc?.phase === 'tailing') return;
      const exit = await runRunner(['sync', '--config', file, '--force-takeover']);
      expect(exit.code, exit.stderr).toBe(0);
    }
  }
});

/** Waits for the moment to kill at: a seeded point inside the target stage. False when the run ended first. */
async function waitForKillPoint(watch: StateWatch, runner: Runner, target: Stage, random: () => number): Promise<boolean> {
  const inCopy = (doc: MigrationDoc | null): boolean => doc?.phase === 'syncing' && doc.step === 'copy';
  switch (target) {
    case 'copy': {
      // Either after a seeded number of finished partitions, or a seeded time into the copy.
      if (random() < 0.5) {
        const partitions = await watch.partitions();
        const done = partitions.filter((p) => p.done).length;
        const goal = done + 1 + Math.floor(random() * 3);
        return watch.until(runner, (doc, ps) => inCopy(doc) && ps.length > 0 && ps.filter((p: PartitionDoc) => p.done).length >= goal);
      }
      // Short enough to land inside the copy of the next partitions on a fast machine too.
      const delay = 100 + Math.floor(random() * 900);
      if (!(await watch.until(runner, (doc, ps) => inCopy(doc) && ps.length > 0))) return false;
      await sleep(delay);
      return true;
    }
    case 'replay': {
      // Between two replay batches: once the first one's nextSeq is saved (catch-up if the replay was shorter).
      const delay = Math.floor(random() * 20);
      const reached = await watch.until(runner, (doc) => (doc?.step === 'replay' && doc.replay.nextSeq > 0) || doc?.step === 'catch-up', 120_000, 5);
      await sleep(delay);
      return reached;
    }
    case 'catch-up': {
      const delay = Math.floor(random() * 300);
      const reached = await watch.until(runner, (doc) => doc?.step === 'catch-up', 120_000, 10);
      await sleep(delay);
      return reached;
    }
    case 'tail': {
      // The tail has started once it refreshed the lease; then a seeded time into it.
      await sleep(500 + Math.floor(random() * 2500));
      return true;
    }
  }
}
