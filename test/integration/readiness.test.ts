import { beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Timestamp, type Document } from 'mongodb';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { tokenTime } from '../../src/engine/position.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * `status` judges readiness now, not from the last slice's report: a slice that is not recent, a lag that
 * grew since, or a saved position that is no longer in the source oplog all make it "not ready", say why, and
 * keep `continue` true. An idle tail keeps the saved position's wall time current (the headroom's basis).
 */
describe('readiness is never stale', () => {
  const clients = useSharedClients();
  const db = uniqueName('ready');
  const name = uniqueName('ready').replace(/_/g, '-');
  const config = (maxLag: number) => testConfig(name, sharedClusters().sourceUri, sharedClusters().destinationUri, [db], `cutover: { maxLagSeconds: ${maxLag} }\n`);
  const state = () => clients.destination.db('__mongo_live_migrate').collection('migrations');

  beforeAll(async () => {
    const { source } = clients;
    await source.db(db).createCollection('c');
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 20 }, (_, i): Document => ({ _id: i })));
  });

  it('a resume token stands for its event cluster time', async () => {
    const { source } = clients;
    const stream = source.db(db).collection('c').watch();
    try {
      await stream.tryNext();
      await source.db(db).collection<Document>('c').insertOne({ _id: 'token' } as Document);
      let event: Document | null = null;
      for (let i = 0; i < 40 && !event; i++) event = await stream.tryNext();
      expect(tokenTime(event!._id as Document)!.equals(event!.clusterTime as Timestamp)).toBe(true);
    } finally {
      await stream.close();
    }
  });

  it('ready only with a recent slice, a lag measured now, and a position inside the oplog', async () => {
    const { source, destination } = clients;
    expect((await runSync(config(30), {}, testPorts('ready-sync'))).exitCode).toBe(0);
    // Short idle slices until continuous verification has compared everything (it starts once a slice's first
    // batch says the tail keeps up: on a loaded machine one 1.5 s slice may not be enough).
    let ready = await runStatus(config(30), {}, testPorts('ready-status'));
    for (let slice = 0; slice < 8 && !ready.progress?.verification?.complete; slice++) {
      expect((await runTail(config(30), { maxDurationMs: 1500 }, testPorts('ready-tail'))).exitCode).toBe(0);
      ready = await runStatus(config(30), {}, testPorts('ready-status'));
    }
    const saved = (await new StateWatch(destination, name).doc())!.applied!;
    // The idle slice's last save carries a current wall time, not the last event's.
    expect(Date.now() - saved.wallTime!.getTime()).toBeLessThan(15_000);

    expect(ready.progress?.readyForCutover, ready.summary).toBe(true);
    expect(ready.continue).toBe(false);
    expect(ready.summary).toMatch(/ready for cutover/);

    // A write after the slice: the lag is measured against it now.
    await sleep(3000);
    await source.db(db).collection<Document>('c').insertOne({ _id: 'late' } as Document);
    const lagging = await runStatus(config(1), {}, testPorts('ready-status'));
    expect(lagging.progress?.readyForCutover).toBe(false);
    expect(lagging.continue).toBe(true);
    expect(lagging.progress!.lagSeconds!).toBeGreaterThanOrEqual(2);
    expect(lagging.summary).toMatch(/not ready: lag now \d+ s .*above cutover\.maxLagSeconds 1 s/);

    // A stale slice: its lag of 0 says nothing about now.
    expect((await runTail(config(30), { maxDurationMs: 1500 }, testPorts('ready-tail'))).exitCode).toBe(0);
    const doc = (await new StateWatch(destination, name).doc())!;
    const last = doc.lagHistory[doc.lagHistory.length - 1]!;
    await state().updateOne({ _id: name } as Document, { $set: { [`lagHistory.${doc.lagHistory.length - 1}.at`]: new Date(Date.now() - 10 * 60_000).toISOString(), lagSeconds: 0 } });
    expect(last.lagSeconds).toBeLessThanOrEqual(30);
    const stale = await runStatus(config(30), {}, testPorts('ready-status'));
    expect(stale.progress?.readyForCutover).toBe(false);
    expect(stale.continue).toBe(true);
    expect(stale.summary).toMatch(/not ready: the last slice measured the lag 10 min ago/);
    expect(stale.progress?.warnings.join('\n')).toMatch(/not ready: the last slice/);

    // A saved position one second inside the source oplog (whose window is the suite's whole life, tens of
    // seconds at least): still there, but status warns that it is about to leave.
    const first = (await source.db('local').collection('oplog.rs').find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next())!.ts as Timestamp;
    await state().updateOne({ _id: name } as Document, { $set: { applied: { operationTime: new Timestamp({ t: first.getHighBits() + 1, i: 0 }) } } });
    const closing = await runStatus(config(30), {}, testPorts('ready-status'));
    expect(closing.progress?.oplogHeadroomSeconds).toBe(1);
    expect(closing.progress?.warnings).toContainEqual(expect.stringMatching(/^the saved position leaves the source oplog in about 1 s \(oplog window \d+ (s|min)\): run tail now, or enlarge the source oplog/));
    expect(closing.summary).toMatch(/warning: the saved position leaves the source oplog in about 1 s/);

    // A saved position older than the source's oldest oplog entry.
    await state().updateOne({ _id: name } as Document, { $set: { applied: { operationTime: new Timestamp({ t: 1_000_000, i: 1 }) } } });
    const lost = await runStatus(config(30), {}, testPorts('ready-status'));
    expect(lost.progress?.readyForCutover).toBe(false);
    expect(lost.continue).toBe(true);
    expect(lost.progress?.oplogHeadroomSeconds).toBe(0);
    expect(lost.summary).toMatch(/not ready: .*the saved position \(1970-01-12T13:46:40\.000Z\) is no longer in the source oplog/);
  });
});
