import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { runCutover } from '../../src/commands/cutover.js';
import { runSync } from '../../src/commands/sync.js';
import { StateStore } from '../../src/engine/state/store.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts } from '../support/engine.js';

/**
 * cutover.writeBlock: none trusts the user's word that the applications are stopped. Writes that still reach
 * the source after the final time are seen by the drain: the cutover does not commit, goes back to taking
 * the final time, and a rerun once the writers are really stopped commits with both sides equal.
 */
describe('cutover without a write block', () => {
  const clients = useSharedClients();

  it('refuses to commit when writes arrive after the final time, and commits on the rerun once they stop', async () => {
    const { source, destination } = clients;
    const db = uniqueName('stray');
    const orders = source.db(db).collection<Document>('orders');
    await source.db(db).createCollection('orders');
    await orders.insertMany(Array.from({ length: 500 }, (_, i): Document => ({ _id: i, v: 0 })));
    const config = testConfig(uniqueName('stray').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { writeBlock: none, lagHoldSeconds: 0, maxLagSeconds: 30 }\n');
    expect((await runSync(config, {}, testPorts('stray-sync'))).exitCode).toBe(0);

    // A writer the user forgot: it goes on until the cutover has taken its final time and is draining.
    const store = new StateStore(destination, config.name);
    let writing = true;
    let written = 0;
    const writer = (async () => {
      for (let n = 1; writing; n++) {
        await orders.updateOne({ _id: n % 500 } as Document, { $set: { v: n } });
        written++;
        await sleep(5);
      }
    })();
    const watcher = (async () => {
      for (let i = 0; i < 1200; i++) {
        const step = (await store.get())?.cutover?.step;
        if (step === 'drain' || step === 'verify') break;
        await sleep(25);
      }
      await sleep(300); // some writes land after the final time
      writing = false;
    })();
    const refused = await runCutover(config, { confirm: config.name, applicationsStopped: true }, testPorts('stray-cutover')).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    writing = false;
    await Promise.all([writer, watcher]);
    expect(refused?.message).toMatch(/writes reached the source after the applications were said to be stopped \(.*orders/);
    const after = await store.get();
    expect(after?.phase).toBe('cutting-over');
    expect(after?.cutover?.step).toBe('final-time');
    expect(after?.error).toMatch(/writes reached the source during cutover/);
    expect(written).toBeGreaterThan(0);

    // The writer is stopped now: the rerun takes a new final time, drains, verifies and commits.
    const rerun = await runCutover(config, { confirm: config.name, applicationsStopped: true }, testPorts('stray-cutover'));
    expect(rerun.exitCode, rerun.summary).toBe(0);
    expect((await store.get())?.phase).toBe('committed');
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
  });
});
