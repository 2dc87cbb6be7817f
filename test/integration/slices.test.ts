import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { runAbort } from '../../src/commands/abort.js';
import { runCutover } from '../../src/commands/cutover.js';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { UserError } from '../../src/errors.js';
import { StateStore } from '../../src/engine/state/store.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts, Writer } from '../support/engine.js';

/**
 * The lifecycle as GitHub runs it, in slices: a sync whose copy outlasts its max-duration pauses with its place
 * saved and the next sync resumes it; a cutover approved while a tail slice runs takes over from it (the
 * slice hands over within seconds), tails until the lag holds and commits; destructive steps need the name.
 * writeBlock none (with applications-stopped) keeps the shared source writable for the other tests.
 */
describe('slices and handoff', () => {
  let source: MongoClient;
  let destination: MongoClient;

  beforeAll(async () => {
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(sharedClusters().destinationUri);
  });
  afterAll(async () => {
    await source?.close();
    await destination?.close();
  });

  it('a sync with a 2 s max-duration pauses its copy with continue; the next syncs resume it to the end', async () => {
    const db = uniqueName('slice');
    const total = 60_000;
    await source.db(db).createCollection('c');
    for (let i = 0; i < total; i += 10_000) {
      await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 10_000 }, (_, j): Document => ({ _id: i + j, pad: 'p'.repeat(200) })));
    }
    // Small batches and one collection at a time: the copy takes many seconds, longer than a 2 s slice (CI C copied
    // 30k documents in batches of 100 within one).
    const config = testConfig(uniqueName('slice').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'sync: { batchSize: 50, parallelCollections: 1 }\n');
    const copied: number[] = [];
    let slices = 0;
    for (;;) {
      const started = Date.now();
      const outcome = await runSync(config, { maxDurationMs: 2000 }, testPorts());
      slices++;
      expect(outcome.exitCode, outcome.summary).toBe(0);
      expect(outcome.continue).toBe(true);
      copied.push(outcome.progress!.totals.documentsCopied);
      if (outcome.progress?.phase === 'tailing') break;
      // Paused by its own time box, not by anything else, and soon after it (saving takes a moment).
      expect(outcome.summary).toMatch(/paused in syncing\/\S+ after its max-duration \(2s\).*the next sync continues where it stopped/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(slices, 'the copy makes progress slice after slice').toBeLessThan(150);
    }
    console.info(`[slices] copy of ${total} documents in ${slices} sync slices of 2 s: ${copied.join(' → ')}`);
    expect(slices).toBeGreaterThan(1);
    // Each slice went on from the last one's place: never back, never over the total.
    for (let i = 1; i < copied.length; i++) expect(copied[i]).toBeGreaterThanOrEqual(copied[i - 1]!);
    expect(copied.some((n) => n > 0 && n < total)).toBe(true);
    expect(copied.at(-1)).toBe(total);
    expect(await destination.db(db).collection('c').countDocuments()).toBe(total);
    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dst.c).toBe(src.c);
  });

  it('a cutover approved during a tail slice: the slice hands over within seconds, the cutover commits; then abort needs the name', async () => {
    const db = uniqueName('handoff');
    await source.db(db).collection<Document>('orders').insertMany(Array.from({ length: 2000 }, (_, i): Document => ({ _id: i, v: 0 })));
    const config = testConfig(uniqueName('handoff').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { writeBlock: none, maxLagSeconds: 5, lagHoldSeconds: 1, verify: hash }\n');
    expect((await runSync(config, {}, testPorts('sync-runner'))).exitCode).toBe(0);

    // Created up front: concurrent implicit creation of one namespace crashes mongod under Wine.
    await source.db(db).createCollection('more');
    const writer = new Writer(sharedClusters().sourceUri, db, ['orders', 'more']);
    writer.start();
    // A long slice (as in the run workflow), ready for cutover while it runs.
    const tail = runTail(config, { maxDurationMs: 120_000 }, testPorts('tail-slice'));
    const store = new StateStore(destination, config.name);
    for (let i = 0; i < 200 && (await store.get())?.lease?.owner !== 'tail-slice'; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    // The applications stop (writeBlock none), then the approved cutover starts.
    expect(await writer.stop()).toBeGreaterThan(20);
    const requested = Date.now();
    const steps: string[] = [];
    const cutover = runCutover(config, { confirm: config.name, applicationsStopped: true, maxDurationMs: 120_000 }, { ...testPorts('cutover-job'), onProgress: (p) => void (steps.at(-1) !== p.step && steps.push(p.step ?? p.phase)) });

    const handedOver = await tail;
    const yieldedAfter = Date.now() - requested;
    expect(handedOver.exitCode, handedOver.summary).toBe(0);
    expect(handedOver.summary).toMatch(/handed over to the cutover \(cutover-job\)/);
    expect(handedOver.continue).toBe(false);
    console.info(`[slices] the tail slice handed over ${yieldedAfter} ms after the cutover started`);
    expect(yieldedAfter, 'the tail slice yields within seconds, not at its max-duration').toBeLessThan(15_000);

    const done = await cutover;
    expect(done.exitCode, done.summary).toBe(0);
    expect(done.progress?.phase).toBe('committed');
    expect(steps).toEqual(expect.arrayContaining(['lag-hold', 'final-time', 'drain', 'restore-indexes', 'verify', 'commit']));
    expect(steps.indexOf('lag-hold')).toBeLessThan(steps.indexOf('drain'));
    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dst).toEqual(src);
    const doc = (await store.get())!;
    expect(doc.cutoverRequest).toBeUndefined();
    expect(doc.lease).toBeNull();

    // A slice dispatched late (queued before the commit) ends cleanly and asks for no more.
    const late = await runTail(config, { maxDurationMs: 5000 }, testPorts('late-slice'));
    expect(late.exitCode).toBe(0);
    expect(late.continue).toBe(false);
    expect(late.summary).toContain('did not start: the migration is committed');

    // Destructive steps on a committed migration need the name typed.
    for (const options of [{}, { dropDestination: true }, { confirm: 'someone-else' }]) {
      const refused = await runAbort(config, options, testPorts()).catch((e: unknown) => e);
      expect(refused, JSON.stringify(options)).toBeInstanceOf(UserError);
    }
    expect((await runStatus(config, {}, testPorts())).progress?.phase).toBe('committed');
    expect(await destination.db(db).collection('orders').countDocuments()).toBeGreaterThan(0);
    const aborted = await runAbort(config, { confirm: config.name, dropDestination: true }, testPorts());
    expect(aborted.summary).toMatch(/dropped \d+ destination collections? and the migration's state/);
  });
});
