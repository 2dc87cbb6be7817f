import { MongoClient, type Document, type Timestamp } from 'mongodb';
import { BENCH_DB, MARKER_COLLECTION, collectionNames, emailOf, generate, makeDocument, rng } from './data.js';
import { sameHashes } from './initial-sync.js';
import { connect, cpuSecondsOf, log, runChild, sleep, tailUntilVerified, withSet, type BenchOptions, type ChildResult } from './common.js';

export interface BurstFigures {
  /** Operations in the burst (documents updated + inserted + deleted). */
  ops: number;
  burstMs: number;
  /** Source secondary: from the burst's start until it had applied the burst's last operation. */
  nativeMs: number;
  /** Our tail, started after the burst: from its start until the marker written after the burst arrived. */
  oursMs: number;
  /** CPU seconds of the source primary while our tail read the burst (nothing else ran on it). */
  sourceCpuOursS: number;
  /** CPU seconds of the source's secondary while it applied the burst as it came (what applying it cost natively). */
  secondaryCpuS: number;
  /** CPU seconds of the destination primary while our tail applied the burst (verification's work included). */
  destinationCpuOursS: number;
  /** CPU seconds of the source primary while a stopped secondary caught up on the same burst. */
  sourceCpuNativeS: number;
  /** That secondary's catch-up time (a backlog, like ours). */
  nativeCatchUpMs: number;
  tail: ChildResult;
  exact: boolean;
}

/**
 * A batch job on the source, the shape that makes a tail fall behind: one updateMany over most documents,
 * bulk inserts and a deleteMany, written with w: 1 as fast as the primary takes them. The two-member source's
 * own secondary applies it as it comes (the reference rate); our tail starts once the burst is over and
 * applies the whole backlog (the measurement). Afterwards the secondary is stopped, the burst repeated,
 * and restarted, to measure what the primary spends feeding a secondary that catches up, beside what it spent
 * feeding our change stream.
 */
export async function burstScenario(options: BenchOptions): Promise<BurstFigures> {
  return withSet({ name: 'bench-burst-src', baseDir: options.baseDir, members: 2, oplogSizeMB: 4096 }, (source) =>
    withSet({ name: 'bench-burst-dst', baseDir: options.baseDir }, async (destination) => {
      const src = await connect(source.uri);
      const dst = await connect(destination.uri);
      const secondary = new MongoClient(source.memberUri(1), { directConnection: true });
      let stopTail: () => void = () => undefined;
      const tailStop = new Promise<void>((resolve) => (stopTail = resolve));
      try {
        const docs = options.burstDocs;
        log(`burst: generating ${docs} documents`);
        await generate(src, { docs, size: options.burstSize, collections: 2 }, log);
        const name = 'bench-burst';
        const request = { name, source: source.uri, destination: destination.uri, extra: options.extra };
        await (await runChild({ ...request, mode: 'sync' }, { baseDir: options.baseDir })).done;
        if (options.afterVerification) await tailUntilVerified(dst, request, options.baseDir);

        const secondaryPid = source.members[1]!.process?.pid;
        const secondaryCpuBefore = cpuSecondsOf(secondaryPid);
        const { ops, burstMs, last } = await runBurst(src, docs, options.burstSize, 1, options.burstShape);
        const nativeMs = await appliedBy(secondary, last, 0) + burstMs;
        const secondaryCpuS = cpuSecondsOf(secondaryPid) - secondaryCpuBefore;
        log(`burst: ${ops} operations in ${(burstMs / 1000).toFixed(1)} s; secondary caught up ${(nativeMs / 1000).toFixed(1)} s after the start`);

        const primaryPid = source.members[0]!.process?.pid;
        const cpuBefore = cpuSecondsOf(primaryPid);
        const destinationPid = destination.members[0]!.process?.pid;
        const destinationCpuBefore = cpuSecondsOf(destinationPid);
        const tailStarted = Date.now();
        const tailChild = await runChild({ ...request, mode: 'tail' }, { baseDir: options.baseDir, stop: tailStop, ...(options.cpuProf ? { cpuProf: options.cpuProf } : {}) });
        tailChild.done.catch(() => undefined);
        const oursMs = await arrival(dst, 'after-burst-1', tailStarted);
        const sourceCpuOursS = cpuSecondsOf(primaryPid) - cpuBefore;
        const destinationCpuOursS = cpuSecondsOf(destinationPid) - destinationCpuBefore;
        log(`burst: our tail applied it in ${(oursMs / 1000).toFixed(1)} s`);
        stopTail();
        const tail = await tailChild.done;
        const exact = await sameHashes(src, dst);

        // The secondary's cost to the primary: stopped during a second burst, then catching up alone. Without
        // its vote first, the primary would step down for want of a majority.
        await withoutVote(src, 1);
        await source.killMember(1);
        const second = await runBurst(src, docs, options.burstSize, 2, options.burstShape);
        const cpuAtRestart = cpuSecondsOf(primaryPid);
        const restarted = Date.now();
        await source.restartMember(1);
        const nativeCatchUpMs = await appliedBy(secondary, second.last, restarted);
        const sourceCpuNativeS = cpuSecondsOf(primaryPid) - cpuAtRestart;
        return { ops, burstMs, nativeMs, secondaryCpuS, oursMs, sourceCpuOursS, destinationCpuOursS, sourceCpuNativeS, nativeCatchUpMs, tail, exact };
      } finally {
        stopTail();
        await Promise.all([src.close(), dst.close(), secondary.close()]);
      }
    }),
  );
}

/**
 * mixed: updateMany over every document, inserts of a fifth as many, deletes of a tenth; inserts: as many inserts
 * as there are documents, nothing else. Then a marker (w: 1).
 */
async function runBurst(src: MongoClient, docs: number, size: number, round: number, shape: BenchOptions['burstShape']): Promise<{ ops: number; burstMs: number; last: Timestamp }> {
  const [first, second] = collectionNames(2).map((c) => src.db(BENCH_DB).collection(c));
  const w1 = { writeConcern: { w: 1 } };
  const perCollection = Math.ceil(docs / 2);
  const mixed = shape === 'mixed';
  const inserts = mixed ? Math.floor(docs / 5) : docs;
  const r = rng(900 + round);
  const started = Date.now();
  const none = { modifiedCount: 0, deletedCount: 0 };
  const updated = mixed ? await first!.updateMany({}, { $inc: { quantity: 1 }, $set: { status: `burst-${round}` } }, w1) : none;
  const updated2 = mixed ? await second!.updateMany({}, { $inc: { quantity: 1 } }, w1) : none;
  let inserted = 0;
  for (let i = 0; i < inserts; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, inserts - i) }, (_, k) => {
      const doc = makeDocument(1, 10_000_000 * round + i + k, size, r);
      doc.email = emailOf(10_000_000 * round + i + k);
      return doc;
    });
    inserted += (await second!.insertMany(batch, { ...w1, ordered: false })).insertedCount;
  }
  const deleted = mixed ? await first!.deleteMany({ n: { $lt: Math.floor(perCollection / 5) * round } }, w1) : none;
  await src.db(BENCH_DB).collection(MARKER_COLLECTION).insertOne({ _id: `after-burst-${round}` } as Document, w1);
  const burstMs = Date.now() - started;
  const hello = await src.db('admin').command({ hello: 1 });
  const last = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
  return { ops: updated.modifiedCount + updated2.modifiedCount + inserted + deleted.deletedCount, burstMs, last };
}

async function withoutVote(src: MongoClient, index: number): Promise<void> {
  const { config } = await src.db('admin').command({ replSetGetConfig: 1 });
  const member = (config.members as Document[])[index]!;
  member.votes = 0;
  member.priority = 0;
  config.version += 1;
  await src.db('admin').command({ replSetReconfig: config });
}

/** Milliseconds from `since` (0: now) until the member has applied `ts`. */
async function appliedBy(member: MongoClient, ts: Timestamp, since: number): Promise<number> {
  const from = since || Date.now();
  for (;;) {
    try {
      const hello = await member.db('admin').command({ hello: 1 });
      const applied = (hello.lastWrite as { opTime: { ts: Timestamp } } | undefined)?.opTime.ts;
      if (applied && applied.gte(ts)) return Date.now() - from;
    } catch {
      // the member is still starting
    }
    if (Date.now() - from > 30 * 60_000) throw new Error('the secondary did not catch up within 30 minutes');
    await sleep(20);
  }
}

async function arrival(client: MongoClient, marker: string, since: number): Promise<number> {
  for (;;) {
    if (await client.db(BENCH_DB).collection(MARKER_COLLECTION).findOne({ _id: marker } as Document)) return Date.now() - since;
    if (Date.now() - since > 30 * 60_000) throw new Error('no catch-up within 30 minutes');
    await sleep(20);
  }
}
