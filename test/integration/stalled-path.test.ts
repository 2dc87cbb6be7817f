import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document, MongoClient } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes, recordingPorts, testConfig, testPorts, Writer } from '../support/engine.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Replies that never come: a middlebox forgets the runner's connections that wait for a reply, so they stay open
 * and no byte arrives on them any more, while the driver's monitor, idle pooled connections and new connections
 * work. Nothing fails: the driver would wait on such a connection for ever (until TCP keepalive notices, about 11
 * minutes). The tail's short commands are bounded (mongo/stall-bound.ts): a stalled one is aborted, its
 * connection closed, and the tail goes on from its saved position.
 */

const BOUND_MS = 2000;

/** host:port of the first member of a connection string (the shared sets have one member). */
function firstMember(uri: string): { host: string; port: number } {
  const hosts = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)![1]!;
  const [host, port] = hosts.split(',')[0]!.split(':') as [string, string | undefined];
  return { host, port: Number(port ?? 27017) };
}

interface LogLine {
  time: number;
  msg: string;
  applied?: number;
}

describe('connections that go silent under the tail', () => {
  let source: MongoClient;
  let destination: MongoClient;
  let proxies: { source: TcpProxy; destination: TcpProxy };

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    const s = firstMember(sourceUri);
    const d = firstMember(destinationUri);
    proxies = { source: await TcpProxy.start(s.port, s.host), destination: await TcpProxy.start(d.port, d.host) };
  });

  afterAll(async () => {
    await proxies?.source.close();
    await proxies?.destination.close();
    await source?.close();
    await destination?.close();
  });

  it('a stalled command is aborted within its bound and the tail goes on; both sides end equal', { timeout: 150_000 }, async () => {
    const db = uniqueName('stall');
    await source.db(db).createCollection('orders');
    await source.db(db).collection<Document>('orders').insertMany(Array.from({ length: 2000 }, (_, i): Document => ({ _id: i, v: 0 })));
    const config = testConfig(uniqueName('stall').replace(/_/g, '-'), proxies.source.uri('serverSelectionTimeoutMS=20000'), proxies.destination.uri('serverSelectionTimeoutMS=20000'), [db], 'cutover: { maxLagSeconds: 5 }\n');
    const recorder = recordingPorts('stall', 5000);
    const ports = { ...recorder.ports, settings: { shortCommandBoundMs: BOUND_MS } };
    const sync = await runSync(config, {}, ports);
    expect(sync.exitCode, sync.summary).toBe(0);

    const writer = new Writer(source, db, ['orders']);
    writer.start(2);
    const freezes: { side: 'source' | 'destination'; at: number; connections: number }[] = [];
    const started = Date.now();
    let tailed: Awaited<ReturnType<typeof runTail>>;
    try {
      const tail = runTail(config, { maxDurationMs: 16_000 }, ports);
      await sleep(3000);
      freezes.push({ side: 'source', at: Date.now(), connections: proxies.source.freeze({ awaitingReply: true }) });
      await sleep(5000);
      freezes.push({ side: 'destination', at: Date.now(), connections: proxies.destination.freeze({ awaitingReply: true }) });
      // Unbounded, a lost reply holds the tail for ever: the slice would never end.
      const ended = await Promise.race([tail, sleep(16_000 + 10 * BOUND_MS, 'still waiting' as const)]);
      if (ended === 'still waiting') throw new Error('the tail slice is still waiting on a lost reply, long after its deadline');
      tailed = ended;
    } finally {
      await writer.stop();
    }
    const elapsed = Date.now() - started;
    expect(tailed.exitCode, tailed.summary).toBe(0);

    const lines = recorder.lines().map((line) => JSON.parse(line) as LogLine);
    const stalled = lines.filter((line) => /got no reply within/.test(JSON.stringify(line)));
    const appliedAfter = (at: number): number | undefined => lines.find((line) => line.msg === 'applied change events' && line.time > at)?.time;
    const recovery = freezes.map((freeze) => ({ ...freeze, resumedAfterMs: (appliedAfter(freeze.at) ?? Infinity) - freeze.at }));
    console.log(`[stalled-path] ${stalled.length} stalled commands aborted; ${JSON.stringify(recovery.map(({ side, connections, resumedAfterMs }) => ({ side, connections, resumedAfterMs })))}; the 16 s slice took ${elapsed} ms`);
    expect(freezes.every((f) => f.connections > 0)).toBe(true);
    expect(stalled.length).toBeGreaterThan(0);
    for (const { side, resumedAfterMs } of recovery) expect(resumedAfterMs, `the tail applied again after ${side}'s replies were lost`).toBeLessThan(4 * BOUND_MS);
    expect(elapsed).toBeLessThan(16_000 + 4 * BOUND_MS);

    const final = await runTail(config, { maxDurationMs: 3000 }, testPorts());
    expect(final.exitCode, final.summary).toBe(0);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });
});
