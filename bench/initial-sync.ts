import { rmSync } from 'node:fs';
import type { Document, MongoClient } from 'mongodb';
import { BENCH_DB, INDEXES, collectionNames, generate } from './data.js';
import { connect, cpuSecondsOf, log, membersCpu, runChild, sleep, withSet, type BenchOptions, type ChildResult } from './common.js';

export interface InitialSyncFigures {
  docs: number;
  dataMB: number;
  indexMB: number;
  nativeMs: number;
  naiveMs: number;
  /** CPU seconds of every process taking part (mongods and the copying client), per run. */
  nativeCpuS: number;
  naiveCpuS: number;
  oursCpuS: number;
  ours: ChildResult;
  exact: boolean;
}

/**
 * Initial sync, three ways on the same data on the same machine:
 * - native: a new member added to the source replica set, timed from reconfig to SECONDARY;
 * - naive: single-threaded find → insertMany per collection with the driver's defaults, indexes after;
 * - ours: the sync command in its own process (copy, indexes, replay, catch-up to the tailing phase).
 */
export async function initialSyncScenario(options: BenchOptions, docs: number, runs: { native: boolean; naive: boolean }): Promise<InitialSyncFigures> {
  return withSet({ name: `bench-src-${docs}`, baseDir: options.baseDir, oplogSizeMB: 2048 }, (source) =>
    withSet({ name: `bench-dst-${docs}`, baseDir: options.baseDir }, async (destination) => {
      const src = await connect(source.uri);
      const dst = await connect(destination.uri);
      try {
        log(`generating ${docs} documents of ~${options.size} B in ${options.collections} collections`);
        const { dataBytes, indexBytes } = await generate(src, { docs, size: options.size, collections: options.collections }, log);
        log(`data ${(dataBytes / 2 ** 20).toFixed(0)} MB, indexes ${(indexBytes / 2 ** 20).toFixed(0)} MB`);
        await src.db('admin').command({ fsync: 1 });
        await sleep(2000);

        let nativeMs = NaN;
        let nativeCpuS = NaN;
        let naiveCpuS = NaN;
        if (runs.native) {
          log('native initial sync: adding a member to the source');
          const launched = Date.now();
          const index = await source.addMember();
          // addMember starts the mongod (seconds under Wine), then reconfigures: the initial sync starts there.
          const started = Date.now();
          const cpuBefore = membersCpu(source);
          const primaryBefore = membersCpu(source, [0]);
          log(`native: new member started and added in ${((started - launched) / 1000).toFixed(1)} s (not counted)`);
          for (;;) {
            const state = await source.memberState(index);
            if (state === 'SECONDARY') break;
            if (state === 'REMOVED' || state === 'DOWN' || Date.now() - started > 30 * 60_000) throw new Error(`new member is ${state}`);
            await sleep(100);
          }
          nativeMs = Date.now() - started;
          nativeCpuS = membersCpu(source) - cpuBefore;
          log(`native CPU: source primary ${(membersCpu(source, [0]) - primaryBefore).toFixed(1)} s, new member ${(nativeCpuS - (membersCpu(source, [0]) - primaryBefore)).toFixed(1)} s`);
          log(`native initial sync: ${(nativeMs / 1000).toFixed(1)} s, ${nativeCpuS.toFixed(1)} CPU s`);
          // Free its CPU and disk for the runs that follow (it has no vote: the primary stays).
          await source.killMember(index);
          rmSync(source.members[index]!.dbpath, { recursive: true, force: true });
          await sleep(1000);
        }

        let naiveMs = NaN;
        if (runs.naive) {
          log('naive copy: single-threaded find → insertMany');
          const before = membersCpu(source) + membersCpu(destination) + cpuSecondsOf(process.pid);
          naiveMs = await naiveCopy(src, dst, options.collections);
          naiveCpuS = membersCpu(source) + membersCpu(destination) + cpuSecondsOf(process.pid) - before;
          log(`naive copy: ${(naiveMs / 1000).toFixed(1)} s, ${naiveCpuS.toFixed(1)} CPU s`);
          await dst.db('naive').dropDatabase();
          await sleep(1000);
        }

        log('our sync (child process)');
        const sourceBefore = membersCpu(source);
        const destinationBefore = membersCpu(destination);
        const serversBefore = sourceBefore + destinationBefore;
        const child = await runChild(
          { mode: 'sync', name: `bench-${docs}`, source: source.uri, destination: destination.uri, extra: options.extra },
          { baseDir: options.baseDir, ...(options.cpuProf ? { cpuProf: options.cpuProf } : {}) },
        );
        const ours = await child.done;
        const oursCpuS = membersCpu(source) + membersCpu(destination) - serversBefore + ours.cpuS;
        log(`our sync CPU: source mongod ${(membersCpu(source) - sourceBefore).toFixed(1)} s, destination mongod ${(membersCpu(destination) - destinationBefore).toFixed(1)} s, runner ${ours.cpuS.toFixed(1)} s`);
        log(`our sync: ${(ours.ms / 1000).toFixed(1)} s, ${oursCpuS.toFixed(1)} CPU s (runner ${ours.cpuS.toFixed(1)}), peak RSS ${(Math.max(ours.vmHwmKB ?? 0, ours.sampledPeakKB) / 1024).toFixed(0)} MB — ${ours.summary}`);
        const exact = await sameHashes(src, dst);
        return { docs, dataMB: dataBytes / 2 ** 20, indexMB: indexBytes / 2 ** 20, nativeMs, naiveMs, nativeCpuS, naiveCpuS, oursCpuS, ours, exact };
      } finally {
        await Promise.all([src.close(), dst.close()]);
      }
    }),
  );
}

/** What most hand-written copies look like: default read options (types promoted), one collection at a time. */
async function naiveCopy(src: MongoClient, dst: MongoClient, collections: number): Promise<number> {
  const started = Date.now();
  for (const name of collectionNames(collections)) {
    const target = dst.db('naive').collection(name);
    let batch: Document[] = [];
    for await (const doc of src.db(BENCH_DB).collection(name).find({}, { batchSize: 1000 })) {
      batch.push(doc);
      if (batch.length === 1000) {
        await target.insertMany(batch, { ordered: false });
        batch = [];
      }
    }
    if (batch.length) await target.insertMany(batch, { ordered: false });
    await dst.db('naive').command({ createIndexes: name, indexes: INDEXES });
  }
  return Date.now() - started;
}

/** dbHash of the benchmark database on both sides: equal exactly when contents and BSON types are. */
export async function sameHashes(src: MongoClient, dst: MongoClient): Promise<boolean> {
  const [a, b] = await Promise.all([src.db(BENCH_DB).command({ dbHash: 1 }), dst.db(BENCH_DB).command({ dbHash: 1 })]);
  const left = a.collections as Record<string, string>;
  const right = b.collections as Record<string, string>;
  return Object.keys(left).every((name) => left[name] === right[name]) && Object.keys(left).length === Object.keys(right).length;
}
