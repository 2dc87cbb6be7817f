import { MongoClient, Timestamp, type Collection, type Document } from 'mongodb';
import { BENCH_DB, MARKER_COLLECTION, collectionNames, generate, mixedOperation, rng } from './data.js';
import { sameHashes } from './initial-sync.js';
import { connect, cpuSecondsOf, tailUntilVerified, log, percentile, runChild, sleep, withSet, type BenchOptions, type ChildResult } from './common.js';

export interface TailFigures {
  docs: number;
  writers: number;
  loadSeconds: number;
  opsPerSecond: number;
  /** Our lag at the instant our position was read: the primary's last write then (from its oplog) minus our applied point. */
  ours: { p50: number; p99: number; max: number; catchUpMs: number };
  /** The secondary's lag in the primary's status: both points of one instant. */
  native: { p50: number; p99: number; max: number; catchUpMs: number };
  /** Our lag as sampled until 2026-12-02: against the primary's status read at the same time as our position. */
  fromStatus: Percentiles;
  /** Samples behind `ours`. */
  samples: number;
  /** The source's majority commit point behind its primary: no change stream hands out an event before it. */
  majority: { p50: number; p99: number; max: number };
  sync: ChildResult;
  tail: ChildResult;
  exact: boolean;
  /**
   * The pairs measured alike. `ours` against `native` sets a durable point (our saved position, written with
   * w: majority) against an applied one (the secondary's last applied, not yet journaled), which charges us with the
   * journal. Here each side is measured with one instrument: its durable point (the secondary's lastDurableWallTime
   * beside our saved position), and what a reader sees (a heartbeat document read on the destination primary and on
   * the secondary, see HEARTBEAT_MS).
   */
  durable: { native: Percentiles };
  visible: { ours: Percentiles; native: Percentiles };
  /** Every sample behind the figures above (seconds), to pool several runs (`--repeat`). */
  lags: { ours: number[]; native: number[]; nativeDurable: number[]; visibleOurs: number[]; visibleNative: number[] };
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}
/**
 * How often both sides are asked for (every 250 ms until 2026-12-02). A loaded primary answers its status about every
 * 250 ms all the same, which bounds the samples of a run; a p99 of ~200 of them is close to their maximum.
 */
const SAMPLE_MS = 100;
/**
 * Samples in the first seconds of the load are left out, for both appliers alike: before the load both sides
 * sat idle, and "primary's last write minus the other side's last applied" then measures the idle time, not lag.
 */
const WARM_UP_MS = 2000;
/**
 * How often the bench writes its heartbeat document on the source (the time it was written, in one field). What a
 * reader of either side sees is read from it: the newest heartbeat visible there is at most this old when it arrived,
 * so both sides' visible lag is over-stated by up to this much alike.
 */
const HEARTBEAT_MS = 20;
const HEARTBEAT_ID = 'heartbeat';

/**
 * Tail lag under load. The source has two members (its secondary is the native reference); our runner syncs
 * to a one-member destination, then tails while `writers` clients run mixed operations as fast as the source
 * takes them for `loadSeconds`. Lag of either is the primary's last applied wall time minus the wall time of
 * the newest change applied on the other side, at one instant. Native: the secondary's lastAppliedWallTime in the
 * primary's status, beside the primary's own. Ours: the wall time saved with the applied position in the state
 * document (durably applied), against the primary's last write at the instant it was read, found in the
 * primary's oplog after the load (see lagAtInstant); read against a status the loaded primary computed later,
 * our position was charged with every write made in between (up to ~160 ms; bench/README.md). Beside them, the
 * source's majority commit point (lastCommittedWallTime): a change stream hands out nothing newer, so no client-side
 * tail's lag can be below it, while the secondary's applied time is ahead of it by design. Catch-up is the time
 * from the end of the load until a marker written right after it is readable on the other side.
 * That first pair sets our durable point against the secondary's applied one; two pairs measured alike are printed
 * beside it (see TailFigures.durable and .visible). The source's writes use w: 1, so the load is the most the
 * primary takes, not what its secondary acknowledges.
 */
export async function tailScenario(options: BenchOptions): Promise<TailFigures> {
  return withSet({ name: 'bench-tail-src', baseDir: options.baseDir, members: 2, oplogSizeMB: 4096 }, (source) =>
    withSet({ name: 'bench-tail-dst', baseDir: options.baseDir }, async (destination) => {
      const src = await connect(source.uri);
      const dst = await connect(destination.uri);
      const secondary = new MongoClient(source.memberUri(1));
      let stopTail: () => void = () => undefined;
      const tailStop = new Promise<void>((resolve) => (stopTail = resolve));
      try {
        log(`tail: generating ${options.smallDocs} documents`);
        await generate(src, { docs: options.smallDocs, size: options.size, collections: options.collections }, log);
        const name = 'bench-tail';
        const request = { name, source: source.uri, destination: destination.uri, extra: options.extra };
        const sync = await (await runChild({ ...request, mode: 'sync' }, { baseDir: options.baseDir })).done;
        log(`tail: our sync ${(sync.ms / 1000).toFixed(1)} s, peak RSS ${(Math.max(sync.vmHwmKB ?? 0, sync.sampledPeakKB) / 1024).toFixed(0)} MB`);
        if (options.afterVerification) await tailUntilVerified(dst, request, options.baseDir);
        const tailChild = await runChild({ ...request, mode: 'tail' }, { baseDir: options.baseDir, stop: tailStop, ...(options.cpuProf ? { cpuProf: options.cpuProf } : {}) });
        tailChild.done.catch(() => undefined);
        const state = dst.db('__mongo_live_migrate').collection('migrations');
        await sleep(3000);

        const names = collectionNames(options.collections);
        const perCollection = Math.ceil(options.smallDocs / options.collections);
        let stopped = false;
        let ops = 0;
        const writers = Array.from({ length: options.writers }, async (_, w) => {
          const r = rng(5000 + w);
          let k = 0;
          while (!stopped) {
            const c = Math.floor(r() * names.length);
            const { write } = mixedOperation(c, Math.floor(r() * perCollection), perCollection + w * 10_000_000 + k++, options.size, r);
            await src.db(BENCH_DB).collection(names[c]!).bulkWrite([write], { writeConcern: { w: 1 } });
            ops++;
          }
        });
        const heartbeats = src.db(BENCH_DB).collection(MARKER_COLLECTION);
        const heartbeat = (async () => {
          while (!stopped) {
            // The primary's clock as it writes (`$$NOW`), not this busy process's as it sends: the oplog's wall time of the write.
            await heartbeats.updateOne({ _id: HEARTBEAT_ID } as Document, [{ $set: { at: '$$NOW' } }], { upsert: true, writeConcern: { w: 1 } });
            await sleep(HEARTBEAT_MS);
          }
        })();
        const ourLags: number[] = [];
        const nativeLags: number[] = [];
        const nativeDurableLags: number[] = [];
        const visibleReads: { ours: AppliedRead[]; native: AppliedRead[] } = { ours: [], native: [] };
        const majorityLags: number[] = [];
        // Our applied wall time and the instant the destination read it: ms since epoch.
        const ourReads: AppliedRead[] = [];
        const pids = [source.members[0]!.process?.pid, source.members[1]!.process?.pid, destination.members[0]!.process?.pid];
        const cpuBefore = pids.map(cpuSecondsOf);
        const opsBefore = await Promise.all([src, dst].map(operationsServed));
        const loadStarted = Date.now();
        log(`tail: ${options.writers} writers for ${options.loadSeconds} s`);
        const loading = (): boolean => Date.now() - loadStarted < options.loadSeconds * 1000;
        const warm = (): boolean => Date.now() - loadStarted >= WARM_UP_MS;
        while (loading()) {
          const [status, doc, oursSee, secondarySees] = await Promise.all([src.db('admin').command({ replSetGetStatus: 1 }), appliedNow(state, name), heartbeatNow(dst), heartbeatNow(secondary)]);
          const members = status.members as Document[];
          const wall = (m: Document | undefined): number | undefined => {
            const at = (m?.lastAppliedWallTime ?? m?.optimeDate) as Date | undefined;
            return at instanceof Date ? at.getTime() : undefined;
          };
          const primary = wall(members.find((m) => m.stateStr === 'PRIMARY'));
          const second = wall(members.find((m) => m.stateStr === 'SECONDARY'));
          const applied = (doc?.applied as Document | undefined)?.wallTime;
          if (warm() && primary !== undefined && second !== undefined) nativeLags.push(Math.max(0, primary - second) / 1000);
          const secondDurable = (members.find((m) => m.stateStr === 'SECONDARY')?.lastDurableWallTime ?? undefined) as Date | undefined;
          if (warm() && primary !== undefined && secondDurable instanceof Date) nativeDurableLags.push(Math.max(0, primary - secondDurable.getTime()) / 1000);
          if (warm() && oursSee) visibleReads.ours.push(oursSee);
          if (warm() && secondarySees) visibleReads.native.push(secondarySees);
          const committed = (status.optimes as { lastCommittedWallTime?: unknown } | undefined)?.lastCommittedWallTime;
          if (warm() && primary !== undefined && committed instanceof Date) majorityLags.push(Math.max(0, primary - committed.getTime()) / 1000);
          if (warm() && primary !== undefined && applied instanceof Date) ourLags.push(Math.max(0, primary - applied.getTime()) / 1000);
          if (warm() && applied instanceof Date && doc?.now instanceof Date) ourReads.push({ at: doc.now.getTime(), applied: applied.getTime() });
          // Development aid: every sample, to see whether the high ones come together (one stall) or spread out.
          if (process.env.MLM_BENCH_SAMPLES && warm() && primary !== undefined) {
            const lagOf = (at: unknown): string => (at instanceof Date ? ((primary - at.getTime()) / 1000).toFixed(2) : '-');
            const ckpt = async (c: MongoClient): Promise<string> => {
              const t = ((await c.db('admin').command({ serverStatus: 1 })).wiredTiger as Document).transaction as Document;
              return `${t['transaction checkpoint currently running']}/${t['transaction checkpoints']}`;
            };
            const [cd, cs, c2] = await Promise.all([ckpt(dst), ckpt(src), ckpt(secondary)]);
            process.stderr.write(`sample ${((Date.now() - loadStarted) / 1000).toFixed(2)} s at ${Date.now()} ours ${lagOf(applied)} secondary ${second === undefined ? '-' : ((primary - second) / 1000).toFixed(2)} majority ${lagOf(committed)} ckpt dst ${cd} src ${cs} sec ${c2}\n`);
          }
          await sleep(SAMPLE_MS);
        }
        stopped = true;
        const [primaryCpu, secondaryCpu, destinationCpu] = pids.map((pid, i) => (cpuSecondsOf(pid) - cpuBefore[i]!).toFixed(1));
        const [sourceOps, destinationOps] = (await Promise.all([src, dst].map(operationsServed))).map((n, i) => n - opsBefore[i]!);
        log(`tail: CPU seconds during the load: source primary ${primaryCpu}, its secondary ${secondaryCpu}, destination ${destinationCpu}; operations served (opcounters): source primary ${sourceOps}, destination ${destinationOps}`);
        await Promise.all([...writers, heartbeat]);
        const loadMs = Date.now() - loadStarted;
        const opsPerSecond = ops / (loadMs / 1000);
        const markerAt = Date.now();
        await src.db(BENCH_DB).collection(MARKER_COLLECTION).insertOne({ _id: 'end', at: new Date() } as Document, { writeConcern: { w: 1 } });
        log(`tail: load stopped after ${ops} operations (${opsPerSecond.toFixed(0)}/s); waiting for catch-up`);
        const arrival = async (client: MongoClient): Promise<number> => {
          for (;;) {
            if (await client.db(BENCH_DB).collection(MARKER_COLLECTION).findOne({ _id: 'end' } as Document)) return Date.now() - markerAt;
            if (Date.now() - markerAt > 15 * 60_000) throw new Error('no catch-up within 15 minutes');
            await sleep(50);
          }
        };
        const [nativeCatchUp, ourCatchUp] = await Promise.all([arrival(secondary), arrival(dst)]);
        const writes = await primaryWrites(src, loadStarted);
        stopTail();
        const tail = await tailChild.done;
        const delay = tail.loopDelayMs;
        log(`tail: our tail process ${tail.cpuS.toFixed(1)} CPU seconds in all (${((tail.cpuS / (loadMs / 1000)) * 100).toFixed(0)} % of the load's duration)${delay ? `; its event loop late by ${delay.p50.toFixed(0)} / ${delay.p99.toFixed(0)} / ${delay.max.toFixed(0)} ms at p50 / p99 / max` : ''}`);
        const exact = await sameHashes(src, dst);
        const stats = (lags: number[], catchUpMs: number) => ({ p50: percentile(lags, 50), p99: percentile(lags, 99), max: Math.max(...lags), catchUpMs });
        const oursAtInstants = ourReads.flatMap((read) => lagAtInstant(writes, read));
        const [visibleOurs, visibleNative] = [visibleReads.ours, visibleReads.native].map((reads) => reads.flatMap((read) => lagAtInstant(writes, read))) as [number[], number[]];
        return {
          docs: options.smallDocs,
          writers: options.writers,
          loadSeconds: loadMs / 1000,
          opsPerSecond,
          ours: stats(oursAtInstants, ourCatchUp),
          native: stats(nativeLags, nativeCatchUp),
          fromStatus: stats(ourLags, 0),
          samples: ourReads.length,
          majority: stats(majorityLags, 0),
          durable: { native: stats(nativeDurableLags, 0) },
          visible: { ours: stats(visibleOurs, 0), native: stats(visibleNative, 0) },
          sync,
          tail,
          exact,
          lags: { ours: oursAtInstants, native: nativeLags, nativeDurable: nativeDurableLags, visibleOurs, visibleNative },
        };
      } finally {
        stopTail();
        await Promise.all([src.close(), dst.close(), secondary.close()]);
      }
    }),
  );
}

/** Our applied point (wall time, ms since epoch) and the instant the destination read it. */
interface AppliedRead {
  at: number;
  applied: number;
}

/**
 * Our state document's applied position, with the destination's clock when it read it (`$$NOW`: every process here
 * shares one clock). Timed from this process instead, a reply handled late by the bench's own busy event loop
 * moved the instant, and the primary's writes in between were charged to us.
 */
async function appliedNow(state: Collection, name: string): Promise<Document | undefined> {
  const [doc] = await state.aggregate([{ $match: { _id: name } }, { $project: { applied: 1, now: '$$NOW' } }]).toArray();
  return doc;
}

/**
 * The newest heartbeat a side shows a reader (primary: the destination; a direct connection: the source's secondary,
 * which serves reads at its last applied point) and that side's clock at the read.
 */
async function heartbeatNow(client: MongoClient): Promise<AppliedRead | undefined> {
  const [doc] = await client.db(BENCH_DB).collection(MARKER_COLLECTION).aggregate([{ $match: { _id: HEARTBEAT_ID } }, { $project: { at: 1, now: '$$NOW' } }], { readConcern: { level: 'local' } }).toArray();
  return doc?.at instanceof Date && doc.now instanceof Date ? { at: doc.now.getTime(), applied: doc.at.getTime() } : undefined;
}

/**
 * The wall time of every entry the primary wrote to its oplog from shortly before the load, in order: its last
 * applied write at any instant is the newest of them at or before it. The oplog finds a `ts` bound without a scan.
 */
async function primaryWrites(src: MongoClient, since: number): Promise<number[]> {
  const from = new Timestamp({ t: Math.floor((since - 5_000) / 1000), i: 0 });
  const walls: number[] = [];
  const cursor = src.db('local').collection('oplog.rs').find({ ts: { $gte: from } }, { projection: { _id: 0, wall: 1 } });
  for await (const entry of cursor) if (entry.wall instanceof Date) walls.push(entry.wall.getTime());
  // Concurrent writes may take their wall time and their place in the oplog in different orders.
  return walls.sort((a, b) => a - b);
}

/**
 * How far `read.applied` was behind the primary at the instant of the read: the primary's newest write at or before
 * that instant minus it (none when no write precedes the instant). Lag is never below zero.
 */
export function lagAtInstant(writes: readonly number[], read: AppliedRead): number[] {
  let low = 0;
  let high = writes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (writes[mid]! <= read.at) low = mid + 1;
    else high = mid;
  }
  if (low === 0) return [];
  return [Math.max(0, writes[low - 1]! - read.applied) / 1000];
}

/** Every operation and command a server has served (serverStatus opcounters), ours and the bench's own included. */
async function operationsServed(client: MongoClient): Promise<number> {
  const counters = (await client.db('admin').command({ serverStatus: 1 })).opcounters as Record<string, unknown>;
  return Object.values(counters).reduce<number>((sum, n) => sum + Number(n), 0);
}
