import type { Document, MongoClient } from 'mongodb';
import { BENCH_DB, collectionNames, generate, mixedOperation, rng } from './data.js';
import { sameHashes } from './initial-sync.js';
import { connect, log, percentile, runChild, sleep, withSet, type BenchOptions } from './common.js';

export interface CutoverFigures {
  docs: number;
  dataMB: number;
  /** Write downtime the committed cutover recorded (block set → committed). */
  downtimeS: number;
  /** Milliseconds per cutover step (verify:* are the parts of verify). */
  timings: Record<string, number>;
  /** Documents compared per second by continuous verification during tail (both sides read). */
  verifyDocsPerSecond: number;
  verifySeconds: number;
  /** Tail lag p99 while partitions were being compared, and once they all were (queue rechecks only). */
  lagP99Comparing: number;
  lagP99Covered: number;
  writerOps: number;
  exact: boolean;
}

/** A TTL index (far in the future, so nothing expires during the run) besides the unique and plain ones of data.ts. */
const TTL_INDEX = { key: { updatedAt: 1 }, name: 'updated_ttl', expireAfterSeconds: 10 * 365 * 86400 };
const EXTRA = 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 2 }\n';

/**
 * Cutover downtime at one size, under a live writer of mixed operations: sync, then tail with continuous
 * verification until every partition is compared (lag sampled all along), then the cutover while the writers
 * keep writing (they are refused during the block). Downtime and step timings are what the cutover recorded.
 */
export async function cutoverScenario(options: BenchOptions, docs: number): Promise<CutoverFigures> {
  return withSet({ name: `bench-cut-src-${docs}`, baseDir: options.baseDir, oplogSizeMB: 4096 }, (source) =>
    withSet({ name: `bench-cut-dst-${docs}`, baseDir: options.baseDir }, async (destination) => {
      const src = await connect(source.uri);
      const dst = await connect(destination.uri);
      let stopTail: () => void = () => undefined;
      const tailStop = new Promise<void>((resolve) => (stopTail = resolve));
      let stopped = false;
      let ops = 0;
      const writers: Promise<void>[] = [];
      try {
        log(`cutover ${docs}: generating`);
        const generated = await generate(src, { docs, size: options.size, collections: options.collections }, log);
        const names = collectionNames(options.collections);
        for (const name of names) await src.db(BENCH_DB).command({ createIndexes: name, indexes: [TTL_INDEX] });
        const name = `bench-cut-${docs}`;
        const request = { name, source: source.uri, destination: destination.uri, extra: `${EXTRA}${options.extra}` };
        const sync = await (await runChild({ ...request, mode: 'sync' }, { baseDir: options.baseDir })).done;
        log(`cutover ${docs}: sync ${(sync.ms / 1000).toFixed(1)} s`);

        // The live writer: mixed operations, a few ms apart per writer (a steady load, not a saturating one).
        const perCollection = Math.ceil(docs / options.collections);
        for (let w = 0; w < options.writers; w++) {
          writers.push(
            (async () => {
              const r = rng(7000 + w);
              for (let k = 0; !stopped; k++) {
                const c = Math.floor(r() * names.length);
                const { write } = mixedOperation(c, Math.floor(r() * perCollection), perCollection + w * 10_000_000 + k, options.size, r);
                await src.db(BENCH_DB).collection(names[c]!).bulkWrite([write]).then(() => ops++, () => sleep(20));
                await sleep(5);
              }
            })(),
          );
        }
        const tailChild = await runChild({ ...request, mode: 'tail' }, { baseDir: options.baseDir, stop: tailStop });
        tailChild.done.catch(() => undefined);
        const tailStarted = Date.now();
        const comparing: number[] = [];
        const covered: number[] = [];
        let coveredAt: number | undefined;
        const state = dst.db('__mongo_live_migrate');
        while (!coveredAt || Date.now() - coveredAt < 15_000) {
          if (Date.now() - tailStarted > 30 * 60_000) throw new Error('verification did not cover the data within 30 minutes');
          const [doc, open, planned] = await Promise.all([
            state.collection('migrations').findOne({ _id: name } as Document),
            state.collection('verify_partitions').countDocuments({ migration: name, done: false }),
            state.collection('verify_partitions').countDocuments({ migration: name }),
          ]);
          const lag = await lagNow(src, doc);
          if (lag !== undefined && Date.now() - tailStarted > 3000) (coveredAt ? covered : comparing).push(lag);
          // Covered: a planning round has run (every collection has partitions) and none is left open.
          const planRan = Boolean((doc?.verification as Document | undefined)?.lastRoundAt);
          if (!coveredAt && planRan && planned > 0 && open === 0) {
            coveredAt = Date.now();
            log(`cutover ${docs}: verification covered everything after ${((coveredAt - tailStarted) / 1000).toFixed(1)} s`);
          }
          await sleep(250);
        }
        const compared = await state.collection('verify_partitions').aggregate<{ n: number }>([{ $match: { migration: name } }, { $group: { _id: null, n: { $sum: '$documentsCompared' } } }]).toArray();
        stopTail();
        await tailChild.done;
        log(`cutover ${docs}: cutover under the writers`);
        await (await runChild({ ...request, mode: 'cutover' }, { baseDir: options.baseDir })).done;
        stopped = true;
        await Promise.all(writers);
        const doc = await state.collection('migrations').findOne({ _id: name } as Document);
        const cutover = (doc?.cutover ?? {}) as { downtimeSeconds?: number; timings?: Record<string, number> };
        const verifySeconds = (coveredAt! - tailStarted) / 1000;
        // Logged as soon as known: a long run cut short still leaves each finished size's figures.
        log(`cutover ${docs}: downtime ${String(cutover.downtimeSeconds)} s, steps ${JSON.stringify(cutover.timings)}, verification ${verifySeconds.toFixed(0)} s`);
        return {
          docs,
          dataMB: generated.dataBytes / 1024 / 1024,
          downtimeS: cutover.downtimeSeconds ?? NaN,
          timings: cutover.timings ?? {},
          verifyDocsPerSecond: (compared[0]?.n ?? 0) / verifySeconds,
          verifySeconds,
          lagP99Comparing: percentile(comparing, 99),
          lagP99Covered: percentile(covered, 99),
          writerOps: ops,
          exact: await sameHashes(src, dst),
        };
      } finally {
        stopped = true;
        stopTail();
        await Promise.all(writers).catch(() => undefined);
        await Promise.all([src.close(), dst.close()]);
      }
    }),
  );
}

/** The source's last write against the applied position's wall time, in seconds. */
async function lagNow(src: MongoClient, doc: Document | null): Promise<number | undefined> {
  const applied = (doc?.applied as Document | undefined)?.wallTime;
  if (!(applied instanceof Date)) return undefined;
  const hello = await src.db('admin').command({ hello: 1 });
  const last = (hello.lastWrite as { lastWriteDate?: Date } | undefined)?.lastWriteDate;
  return last instanceof Date ? Math.max(0, last.getTime() - applied.getTime()) / 1000 : undefined;
}
