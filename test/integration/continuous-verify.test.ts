import { describe, expect, it } from 'vitest';
import { Binary, BSON, Timestamp, type Document, type MongoClient } from 'mongodb';
import { lastWriteTime } from '../../src/mongo/introspection.js';
import { StateStore } from '../../src/engine/state/store.js';
import { recheckEntries } from '../../src/engine/verify/continuous/recheck.js';
import { RecheckQueue, type TouchedDocument } from '../../src/engine/verify/continuous/recheck-queue.js';
import { runSync } from '../../src/commands/sync.js';
import type { CommandOutcome } from '../../src/report/model.js';
import type { Config } from '../../src/config/types.js';
import { runChildCli, writeConfigFile } from '../support/child-runner.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { tailUntil as tailSlicesUntil } from '../support/tail-slices.js';

const STATE = '__mongo_live_migrate';

async function seed(client: MongoClient, db: string): Promise<void> {
  const c = client.db(db).collection<Document>('c');
  await client.db(db).createCollection('c');
  await client.db(db).createCollection('d');
  await c.insertMany(Array.from({ length: 3000 }, (_, i): Document => ({ _id: i, email: `u${i}@x`, at: new Date(), pad: 'x'.repeat(100) })));
  await c.createIndexes([{ key: { email: 1 }, name: 'email', unique: true }, { key: { at: 1 }, name: 'ttl', expireAfterSeconds: 3600 }]);
  await client.db(db).collection<Document>('d').insertMany(Array.from({ length: 200 }, (_, i): Document => ({ _id: `k${i}`, v: i })));
}

/** Tail slices until status says what `until` wants (see tail-slices.ts). */
const tailUntil = (config: Config, until: (status: CommandOutcome) => boolean, slices = 6): Promise<CommandOutcome> => tailSlicesUntil(config, until, slices, 'cv');

describe('continuous verification', () => {
  const clients = useSharedClients();

  it('covers every partition during tail, finalizes unique indexes, and catches differences made on the destination before any cutover', async () => {
    const { source, destination } = clients;
    const db = uniqueName('cv');
    await seed(source, db);
    const config = testConfig(uniqueName('cv').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(config, {}, testPorts('cv-sync'))).exitCode).toBe(0);
    // A live writer on the source meanwhile: what it touches is queued and rechecked, never reported.
    for (let i = 0; i < 50; i++) await source.db(db).collection<Document>('c').updateOne({ _id: i } as Document, { $set: { email: `moved${i}@x` } });

    const clean = await tailUntil(config, (s) => Boolean(s.progress?.readyForCutover));
    expect(clean.progress?.verification, clean.summary).toMatchObject({ complete: true, mismatches: 0 });
    expect(clean.progress?.verification?.documentsVerified).toBeGreaterThanOrEqual(3200);
    expect(clean.progress?.verification?.predictedDowntimeSeconds).toBeGreaterThan(0);
    expect(clean.summary).toMatch(/ready for cutover/);
    // The unique index is unique on the destination already; the TTL waits for the commit.
    const indexes = await destination.db(db).collection('c').listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'email')).toMatchObject({ unique: true });
    expect(indexes.find((i) => i.name === 'ttl')?.expireAfterSeconds).not.toBe(3600);

    // Behind the migration's back: a changed, a deleted and an added document, an extra index, a changed option.
    const dst = destination.db(db);
    await dst.collection<Document>('c').updateOne({ _id: 2000 } as Document, { $set: { pad: 'changed' } });
    await dst.collection<Document>('c').deleteOne({ _id: 2001 } as Document);
    await dst.collection('d').insertOne({ _id: 'rogue', v: -1 } as Document);
    await dst.collection('d').createIndex({ v: 1 }, { name: 'rogue_index' });
    await dst.command({ collMod: 'd', validator: { v: { $type: 'int' } } });

    const caught = await tailUntil(config, (s) => (s.progress?.verification?.mismatches ?? 0) >= 5);
    const found = caught.progress!.verification!;
    expect(found.mismatches, caught.summary).toBeGreaterThanOrEqual(5);
    expect(caught.progress?.readyForCutover).toBe(false);
    const queue = await destination.db(STATE).collection('recheck').find({ m: config.name, attempts: { $gte: 2 } }).toArray();
    expect(queue.map((q) => `${String(q.t)} ${String(q.mismatch)}`).sort()).toEqual([`${db}.c content`, `${db}.c missing-document`, `${db}.d extra-document`]);
    const state = await destination.db(STATE).collection('migrations').findOne({ _id: config.name } as Document);
    expect((state?.verification?.metaMismatches as string[]).join('\n')).toMatch(/rogue_index[\s\S]*validator|validator[\s\S]*rogue_index/);
    expect(caught.summary).toMatch(/not ready: .*verification found/);
  });

  it('the recheck queue survives kill -9 of the runner at seeded points and still catches a planted difference', async () => {
    const { source, destination } = clients;
    const db = uniqueName('cvkill');
    await seed(source, db);
    const name = uniqueName('cvkill').replace(/_/g, '-');
    const extra = 'cutover: { maxLagSeconds: 10 }\n';
    const config = testConfig(name, sharedClusters().sourceUri, sharedClusters().destinationUri, [db], extra);
    const file = writeConfigFile(name, [db], extra);
    const env = { SOURCE_URI: sharedClusters().sourceUri, DESTINATION_URI: sharedClusters().destinationUri };
    expect((await runSync(config, {}, testPorts('cvk-sync'))).exitCode).toBe(0);
    await destination.db(db).collection<Document>('c').updateOne({ _id: 2500 } as Document, { $set: { pad: 'planted' } });
    // Sync's catch-up may already have compared everything (a slow machine gives it time): start the comparison
    // over, as DDL would, so that the killed runner has partitions to compare.
    await destination.db(STATE).collection('verify_partitions').deleteMany({ migration: name });

    for (const point of ['verify:partition-queued#2', 'verify:feed-queued', 'verify:recheck-compared']) {
      // Changes on the source so that the feed has batches to queue.
      for (let i = 0; i < 20; i++) await source.db(db).collection<Document>('c').updateOne({ _id: 100 + i } as Document, { $inc: { n: 1 } });
      const killed = await runChildCli(['tail', '--config', file, '--max-duration', '20s', '--force-takeover', '--log-level', 'warn'], { ...env, MLM_FAILPOINT: point });
      expect(killed.signal, `${point}: ${killed.stdout} ${killed.stderr}`).toBe('SIGKILL');
      // Queued, or logged by the feed for a recheck (see touch-log.ts).
      const queued = (await destination.db(STATE).collection('recheck').countDocuments({ m: name })) + (await destination.db(STATE).collection('touch_log').countDocuments({ m: name }));
      expect(queued, point).toBeGreaterThan(0);
    }
    const done = await tailUntil(config, (s) => Boolean(s.progress?.verification?.complete) && (s.progress?.verification?.mismatches ?? 0) >= 1, 8);
    expect(done.progress?.verification, done.summary).toMatchObject({ complete: true, mismatches: 1 });
    const confirmed = await destination.db(STATE).collection('recheck').find({ m: name, attempts: { $gte: 2 } }).toArray();
    expect(confirmed.map((c) => c.mismatch)).toEqual(['content']);
  });
});

describe('recheck judging', () => {
  const clients = useSharedClients();

  it('a document touched after the applied position waits instead of counting as different; at or before it, it counts', async () => {
    const { source, destination } = clients;
    const db = uniqueName('rj');
    type Doc = { _id: number; v?: string; w?: number };
    await source.db(db).collection<Doc>('c').insertOne({ _id: 1, v: 'source' });
    await destination.db(db).collection<Doc>('c').insertOne({ _id: 1, v: 'not applied yet' });
    const store = new StateStore(destination, uniqueName('rj'));
    const queue = new RecheckQueue(store);
    const before = await lastWriteTime(source, 'applied');
    const touched = new Timestamp({ t: before.getHighBits() + 60, i: 1 });
    const key = Buffer.from(BSON.serialize({ _id: 1 }));
    await queue.touch([{ source: `${db}.c`, target: `${db}.c`, key, at: touched }], 0);
    const entry = async (): Promise<Document | null> => store.recheck.findOne({ m: store.name });

    // The tail has applied up to `before`: the destination may still be on its way to the event at `touched`.
    let result = await recheckEntries(source, destination, queue, await queue.next(10, { all: true }), before);
    expect(result.different).toEqual([]);
    expect(await entry()).toMatchObject({ attempts: 0 });
    // Once the applied position passes the event (here: the source as of now, after it), the difference counts.
    await source.db(db).collection<Doc>('c').updateOne({ _id: 1 }, { $set: { w: 1 } });
    await source.db(db).collection<Doc>('c').updateOne({ _id: 1 }, { $unset: { w: 1 } });
    const now = await lastWriteTime(source, 'majority');
    await store.recheck.updateOne({ m: store.name }, { $set: { lastEvent: before } });
    result = await recheckEntries(source, destination, queue, await queue.next(10, { all: true }), now);
    expect(result.different.map((d) => d.kind)).toEqual(['content']);
    expect(await entry()).toMatchObject({ attempts: 1, mismatch: 'content' });
    expect(touched.greaterThan(now)).toBe(true);
  });

  it('a write seen on the destination queues its document, but leaves one already waiting for a recheck as it is', async () => {
    const store = new StateStore(clients.destination, uniqueName('ensure'));
    const queue = new RecheckQueue(store);
    const entry = (id: number): TouchedDocument => ({ source: 'a.c', target: 'a.c', key: Buffer.from(BSON.serialize({ _id: id })) });
    const read = async (id: number): Promise<Document | null> => store.recheck.findOne({ m: store.name, key: new Binary(entry(id).key) });
    // 1 waits (due in a minute) after a recheck found it different once; 2 is due now (a recheck may be reading it).
    await queue.touch([entry(1)], 60_000);
    await store.recheck.updateOne({ m: store.name, key: new Binary(entry(1).key) }, { $set: { attempts: 1, mismatch: 'content' } });
    await queue.touch([entry(2)], 0);
    const [waiting, due] = [await read(1), await read(2)];
    await queue.ensure([entry(1), entry(2), entry(3)]);
    expect(await read(1)).toEqual(waiting);
    expect(await read(2)).toMatchObject({ gen: due!.gen + 1, attempts: 0 });
    expect((await read(2))!.due.getTime()).toBeGreaterThan(due!.due.getTime());
    expect(await read(3)).toMatchObject({ gen: 1, attempts: 0, s: 'a.c', t: 'a.c' });
    expect(await read(3)).not.toHaveProperty('mismatch');
  });

  it('catches a write behind the migration\'s back to a document whose _id is a document with integer-like field names', async () => {
    const { source, destination } = clients;
    const db = uniqueName('cvkey');
    // {"10": i, "9": "x"}: a JS object puts "9" first, so the key read back through one named another document.
    const idOf = (i: number): Map<string, unknown> => new Map<string, unknown>([['10', i], ['9', 'x']]);
    await source.db(db).collection('e').insertMany(Array.from({ length: 300 }, (_, i) => new Map<string, unknown>([['_id', idOf(i)], ['v', i]])) as unknown as Document[]);
    const config = testConfig(uniqueName('cvkey').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 10 }\n');
    expect((await runSync(config, {}, testPorts('cvkey-sync'))).exitCode).toBe(0);
    const clean = await tailUntil(config, (s) => Boolean(s.progress?.readyForCutover));
    expect(clean.progress?.verification, clean.summary).toMatchObject({ complete: true, mismatches: 0 });

    // Every partition is compared: only the destination's watch can see this write.
    await destination.db(db).collection('e').updateOne({ _id: idOf(33) } as unknown as Document, { $set: { v: 'changed' } });
    const caught = await tailUntil(config, (s) => (s.progress?.verification?.mismatches ?? 0) >= 1);
    expect(caught.progress?.verification?.mismatches, caught.summary).toBe(1);
    const queue = await destination.db(STATE).collection('recheck').find({ m: config.name, attempts: { $gte: 2 } }).toArray();
    expect(queue.map((q) => [String(q.t), String(q.mismatch), Buffer.from((q.key as Binary).buffer).toString('hex')])).toEqual([
      [`${db}.e`, 'content', Buffer.from(BSON.serialize(new Map([['_id', idOf(33)]]))).toString('hex')],
    ]);
  });
});
