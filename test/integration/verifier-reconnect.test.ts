import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Continuous verification through cut connections: the destination's connections are reset twice while a tail
 * slice verifies 20,000 documents. The verifier starts again from the saved state, as the tail does, and the
 * slice ends with every partition compared (before, the first reset stopped verification for the slice).
 */
describe('continuous verification through cut connections', () => {
  const clients = useSharedClients();
  let proxy: TcpProxy;

  beforeAll(async () => {
    const port = Number(/:(\d+)/.exec(sharedClusters().destinationUri.replace(/^mongodb:\/\/(?:[^@/]*@)?/, ''))![1]);
    proxy = await TcpProxy.start(port);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('starts again after a reset connection and finishes the comparison in the same slice', { timeout: 120_000 }, async () => {
    const db = uniqueName('vrc');
    await clients.source.db(db).createCollection('c');
    for (let i = 0; i < 20_000; i += 10_000) {
      await clients.source.db(db).collection<Document>('c').insertMany(Array.from({ length: 10_000 }, (_, k): Document => ({ _id: i + k, pad: 'v'.repeat(400) })));
    }
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('vrc').replace(/_/g, '-');
    const direct = testConfig(name, sourceUri, destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(direct, {}, testPorts('vrc-sync'))).exitCode).toBe(0);
    const state = clients.destination.db('__mongo_live_migrate').collection('verify_partitions');
    await state.deleteMany({ migration: name }); // compared again from scratch in the slice below

    const cut = testConfig(name, sourceUri, proxy.uri('serverSelectionTimeoutMS=20000'), [db], 'cutover: { maxLagSeconds: 10 }\n');
    const stop = new AbortController();
    const slice = runTail(cut, { maxDurationMs: 90_000 }, testPorts('vrc-tail', stop.signal));
    // Cut while the comparison runs: once it has planned its partitions and compared some of them.
    const comparing = async (): Promise<boolean> => (await state.findOne({ migration: name, documentsCompared: { $gt: 0 } })) !== null;
    for (let i = 0; i < 200 && !(await comparing()); i++) await sleep(50);
    expect(await comparing()).toBe(true);
    proxy.dropAll();
    await sleep(1500);
    proxy.dropAll();
    // The slice is stopped once every partition is compared (or after a minute, which fails below).
    const open = async (): Promise<number> => state.countDocuments({ migration: name, done: false });
    for (let i = 0; i < 600 && (await open()) > 0; i++) await sleep(100);
    stop.abort();
    const outcome = await slice;
    expect(outcome.exitCode).toBe(0);
    expect(await open()).toBe(0);
    expect(outcome.progress?.verification?.complete, outcome.summary).toBe(true);
    expect(proxy.dropped).toBeGreaterThan(0);
  });
});
