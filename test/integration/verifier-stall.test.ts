import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { VERSION } from '../../src/version.js';
import { sharedClusters, uniqueName, useOwnSource } from '../support/clusters.js';
import { recordingPorts, testConfig } from '../support/engine.js';

/**
 * Continuous verification on a path that stops answering. The source holds the verifier's `find`s (and only
 * its: the failpoint matches its connections' appName) without a reply for much longer than a slice, as a
 * silent network path would. The tail's commands are bounded one by one (stall-bound.ts); the verifier's run on
 * connections of its own and are watched: one with no reply within the bound, or a slice that ends while one
 * waits, closes those connections under it. Before, nothing bounded them, and the slice's end waited for the
 * verifier up to the whole command bound (80 s under network cuts in CI).
 */

const SELECTION_MS = 3000;
const VERIFIER_APP = `mongo-live-migrate/${VERSION} verifier`;

interface LogLine {
  msg: string;
  error?: string;
}

describe('continuous verification on a path that stops answering', () => {
  const own = useOwnSource({ name: 'vstall', args: ['--setParameter', 'enableTestCommands=1'] });

  /**
   * Holds the verifier's source `find`s without a reply for `blockMs` (`times`: that many of them, else all).
   * Returns a wait for the verifier's first held find.
   */
  const holdVerifierFinds = async (blockMs: number, times?: number): Promise<() => Promise<void>> => {
    const admin = own.source.db('admin');
    const reply = await admin.command({
      configureFailPoint: 'failCommand',
      mode: times ? { times } : 'alwaysOn',
      data: { failCommands: ['find'], blockConnection: true, blockTimeMS: blockMs, appName: VERIFIER_APP },
    });
    const entered = Number(reply.count);
    return async () => {
      await admin.command({ waitForFailPoint: 'failCommand', timesEntered: entered + 1, maxTimeMS: 20_000 });
    };
  };
  const release = async (): Promise<void> => {
    await own.source.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  };

  /** A synced migration of 4,000 documents whose comparison starts again from scratch in the next slice. */
  const syncedMigration = async (prefix: string): Promise<{ name: string; open: () => Promise<number>; planned: () => Promise<number>; config: ReturnType<typeof testConfig> }> => {
    const db = uniqueName(prefix);
    await own.source.db(db).collection<Document>('c').insertMany(Array.from({ length: 4000 }, (_, i): Document => ({ _id: i, pad: 'v'.repeat(200) })));
    const name = uniqueName(prefix).replace(/_/g, '-');
    const uri = (base: string): string => `${base}${base.includes('?') ? '&' : '?'}serverSelectionTimeoutMS=${SELECTION_MS}`;
    const config = testConfig(name, uri(own.cluster.uri), uri(sharedClusters().destinationUri), [db], 'cutover: { maxLagSeconds: 10 }\n');
    const sync = await runSync(config, {}, recordingPorts(`${prefix}-sync`).ports);
    expect(sync.exitCode, sync.summary).toBe(0);
    const partitions = own.destination.db('__mongo_live_migrate').collection('verify_partitions');
    await partitions.deleteMany({ migration: name });
    return { name, config, open: () => partitions.countDocuments({ migration: name, done: false }), planned: () => partitions.countDocuments({ migration: name }) };
  };

  it('a slice that ends while a verification step waits for a reply ends on time', { timeout: 120_000 }, async () => {
    const { config, open } = await syncedMigration('vstop');
    // Much longer than the slice's end and the stop's grace (turning the failpoint off waits for it to run out).
    const held = await holdVerifierFinds(30_000);
    try {
      const recorder = recordingPorts('vstop-tail', 2000);
      const sliceMs = 4000;
      const started = Date.now();
      const slice = runTail(config, { maxDurationMs: sliceMs }, { ...recorder.ports, settings: { shortCommandBoundMs: 60_000 } });
      await held();
      const outcome = await slice;
      const elapsed = Date.now() - started;
      console.log(`[verifier-stall] figure: a ${sliceMs / 1000} s slice whose verifier waited for a reply ended after ${elapsed} ms`);
      expect(outcome.exitCode, outcome.summary).toBe(0);
      // The verifier reached its held read (above) and planned nothing; the slice did not wait for the reply.
      expect(await open()).toBe(0);
      expect(outcome.progress?.verification?.complete).not.toBe(true);
      // Before, the slice waited for the reply (the rest of the 30 s hold), then for the next held read.
      expect(elapsed).toBeLessThan(sliceMs + 16_000);
      const lines = recorder.lines().map((line) => JSON.parse(line) as LogLine);
      expect(lines.filter((l) => /continuous verification (stopped|did not stop)/.test(l.msg)), 'a stop is not an error').toEqual([]);
    } finally {
      await release();
    }
  });

  it('a verification step that gets no reply within the bound starts again, and the comparison ends in the same slice', { timeout: 120_000 }, async () => {
    const { config, open, planned } = await syncedMigration('vredo');
    // One held find, much longer than the bound (5 s with server selection); every later one answers.
    const held = await holdVerifierFinds(30_000, 1);
    try {
      const recorder = recordingPorts('vredo-tail', 4000);
      const stop = new AbortController();
      const boundMs = 2000;
      const slice = runTail(config, { maxDurationMs: 60_000 }, { ...recorder.ports, signal: stop.signal, settings: { shortCommandBoundMs: boundMs } });
      const started = Date.now();
      await held();
      // Stopped once every partition is compared; waiting for the held reply would take 30 s.
      const compared = async (): Promise<boolean> => (await planned()) > 0 && (await open()) === 0;
      for (let i = 0; i < 600 && !(await compared()); i++) await sleep(100);
      const comparedAfter = Date.now() - started;
      stop.abort();
      const outcome = await slice;
      const lines = recorder.lines().map((line) => JSON.parse(line) as LogLine);
      const restarts = lines.filter((l) => l.msg.startsWith('continuous verification lost a connection'));
      console.log(`[verifier-stall] restarts: ${JSON.stringify(restarts.map((r) => r.error))}`);
      console.log(`[verifier-stall] figure: a step without a reply given up, comparison finished ${comparedAfter} ms into the slice`);
      expect(outcome.exitCode, outcome.summary).toBe(0);
      expect(restarts.some((r) => /^an operation on the source got no reply within \d+ s/.test(r.error ?? '')), 'the held find was given up').toBe(true);
      expect(await compared()).toBe(true);
      expect(comparedAfter).toBeLessThan(22_000);
    } finally {
      await release();
    }
  });
});
