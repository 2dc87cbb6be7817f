import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes, recordingPorts, tailUntilDrained, testConfig, Writer } from '../support/engine.js';
import { useProxiedClusters } from '../support/proxied-clusters.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * Replies that never come: a middlebox forgets the runner's connections that wait for a reply, so they stay open
 * and no byte arrives on them any more, while the driver's monitor, idle pooled connections and new connections
 * work. Nothing fails: the driver would wait on such a connection for ever (until TCP keepalive notices, about 11
 * minutes). The tail's short commands are bounded (mongo/stall-bound.ts): a stalled one is aborted, its
 * connection closed, and the tail goes on from its saved position.
 */

const BOUND_MS = 2000;
/** The runner's server selection timeout here: a bounded command is aborted after both (see stall-bound.ts). */
const SELECTION_MS = 3000;
const EFFECTIVE_MS = BOUND_MS + SELECTION_MS;
const SLICE_MS = 20_000;

interface LogLine {
  time: number;
  msg: string;
  applied?: number;
}

describe('connections that go silent under the tail', () => {
  const clusters = useProxiedClusters();

  it('a stalled command is aborted within its bound and the tail goes on; both sides end equal', { timeout: 150_000 }, async () => {
    const { source, destination, proxies } = clusters;
    const db = uniqueName('stall');
    await source.db(db).createCollection('orders');
    await source.db(db).collection<Document>('orders').insertMany(Array.from({ length: 2000 }, (_, i): Document => ({ _id: i, v: 0 })));
    const config = testConfig(uniqueName('stall').replace(/_/g, '-'), proxies.source.uri(`serverSelectionTimeoutMS=${SELECTION_MS}`), proxies.destination.uri(`serverSelectionTimeoutMS=${SELECTION_MS}`), [db], 'cutover: { maxLagSeconds: 5, verify: none }\n');
    const recorder = recordingPorts('stall', 5000);
    const ports = { ...recorder.ports, settings: { shortCommandBoundMs: BOUND_MS } };
    const sync = await runSync(config, {}, ports);
    expect(sync.exitCode, sync.summary).toBe(0);

    const writer = new Writer(sharedClusters().sourceUri, db, ['orders']);
    writer.start(2);
    const freezes: { side: 'source' | 'destination'; at: number; connections: number }[] = [];
    const started = Date.now();
    // A few times in a row on each side, until more than one connection was caught: what waits for a reply at one
    // instant may be the driver's monitor check alone (CI: the only source connection caught in three tries was
    // given up 16 s later, when the slice ended); the tail's own reads and writes are caught in one of them.
    const freezeSide = async (side: 'source' | 'destination'): Promise<void> => {
      let caught = 0;
      for (let i = 0; i < 3 || (caught < 2 && i < 8); i++, await sleep(500)) {
        const connections = proxies[side].freeze({ awaitingReply: true });
        caught += connections;
        freezes.push({ side, at: Date.now(), connections });
      }
    };
    let tailed: Awaited<ReturnType<typeof runTail>>;
    try {
      const tail = runTail(config, { maxDurationMs: SLICE_MS }, ports);
      await sleep(3000);
      await freezeSide('source');
      // The destination's turn at the same moment of the slice however long the source's took: each freeze needs
      // an applied batch after it within the slice.
      await sleep(Math.max(0, started + 10_500 - Date.now()));
      await freezeSide('destination');
      // Unbounded, a lost reply holds the tail for ever: the slice would never end.
      const ended = await Promise.race([tail, sleep(SLICE_MS + 4 * EFFECTIVE_MS, 'still waiting' as const)]);
      if (ended === 'still waiting') throw new Error('the tail slice is still waiting on a lost reply, long after its deadline');
      tailed = ended;
    } finally {
      await writer.stop();
    }
    const elapsed = Date.now() - started;
    expect(tailed.exitCode, tailed.summary).toBe(0);

    // The runner gives up on each lost reply within the bound: it closes the connection (a frozen connection the
    // proxy sees closed). Unbounded, it waits on them until the slice ends and its clients close, for ever if the
    // slice waits on one of them.
    const gaveUp = (['source', 'destination'] as const).map((side) => {
      const ofSide = freezes.filter((f) => f.side === side);
      // Each close measured from the last freeze before it; the quickest is the runner giving up on one of them.
      const waits = proxies[side].frozenClosedAt.flatMap((at) => {
        const before = ofSide.filter((f) => f.at <= at).pop();
        return before ? [at - before.at] : [];
      });
      return { side, connections: ofSide.reduce((sum, f) => sum + f.connections, 0), closedAfterMs: waits.length ? Math.min(...waits) : null };
    });
    const lines = recorder.lines().map((line) => JSON.parse(line) as LogLine);
    const appliedAfter = (at: number): number | undefined => lines.find((line) => line.msg === 'applied change events' && line.time > at + EFFECTIVE_MS)?.time;
    console.log(`[stalled-path] ${JSON.stringify(gaveUp)}; the ${SLICE_MS / 1000} s slice took ${elapsed} ms`);
    console.log(`[stalled-path] figure: lost replies given up after ${gaveUp.map((g) => `${g.closedAfterMs ?? '∞'} ms (${g.side})`).join(', ')}; bound ${EFFECTIVE_MS} ms`);
    for (const { side, connections, closedAfterMs } of gaveUp) {
      expect(connections, `${side}: a connection waited for a reply when the path froze`).toBeGreaterThan(0);
      expect(closedAfterMs, `${side}: the runner gave up on a lost reply`).not.toBeNull();
      expect(closedAfterMs!).toBeLessThan(EFFECTIVE_MS + 2000);
    }
    // And it went on applying after each freeze.
    for (const freeze of freezes) expect(appliedAfter(freeze.at), `applied after ${freeze.side}'s replies were lost at ${freeze.at - started} ms`).toBeDefined();
    expect(elapsed).toBeLessThan(SLICE_MS + 2 * EFFECTIVE_MS);

    const final = await tailUntilDrained(config, 'stall-final');
    expect(final.exitCode, final.summary).toBe(0);
    expect(final.progress?.lagSeconds).toBe(0);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });

  it('a copy read whose reply never comes is given up within the bound; the sync finishes and the sides are equal', { timeout: 150_000 }, async () => {
    const { source, destination, proxies } = clusters;
    const db = uniqueName('stallcopy');
    const orders = source.db(db).collection<Document>('orders');
    for (let i = 0; i < 6; i++) await orders.insertMany(Array.from({ length: 5000 }, (_, j): Document => ({ _id: i * 5000 + j, pad: 'p'.repeat(300) })));
    // The monitor polls: a streaming monitor always awaits a reply, so every freeze caught it, and its timeout made
    // the driver interrupt every connection of the pool, the copy's too; the copy's own bound was never needed.
    const options = `serverSelectionTimeoutMS=${SELECTION_MS}&serverMonitoringMode=poll`;
    const config = testConfig(uniqueName('stallcopy').replace(/_/g, '-'), proxies.source.uri(options), proxies.destination.uri(options), [db], 'sync: { batchSize: 100, parallelCollections: 1 }\ncutover: { maxLagSeconds: 5, verify: none }\n');
    const recorder = recordingPorts('stallcopy', 2000);
    const watch = new StateWatch(destination, config.name);
    const sync = runSync(config, {}, { ...recorder.ports, settings: { shortCommandBoundMs: BOUND_MS } });
    for (const started = Date.now(); ; await sleep(20)) {
      const copied = (await watch.partitions()).reduce((sum, p) => sum + p.documentsCopied, 0);
      if (copied >= 2000) break;
      if (Date.now() - started > 60_000) throw new Error('the copy did not start');
    }
    // Freezes the source's connections waiting for a reply, several times: the copy's read is one of them at some instant.
    let caught = 0;
    for (let i = 0; i < 80; i++, await sleep(25)) caught += proxies.source.freeze({ awaitingReply: true });
    console.log(`[stalled-path] copy: ${caught} source connections frozen`);
    const ended = await Promise.race([sync, sleep(60_000, 'still waiting' as const)]);
    // Unbounded, the copy waits on its lost reply until TCP keepalive gives up (~11 minutes).
    if (ended === 'still waiting') throw new Error(`the sync still waits on a lost reply a minute after the source froze (${caught} connections frozen)`);
    expect(ended.exitCode, ended.summary).toBe(0);
    expect(proxies.source.frozenClosedAt.length, 'the runner closed a connection that lost its reply').toBeGreaterThan(0);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });
});
