import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { tagDriverName } from '../../src/mongo/client-operations.js';
import { LeaseHolder } from '../../src/engine/state/lease.js';
import { StateStore } from '../../src/engine/state/store.js';
import type { MigrationDoc } from '../../src/engine/state/types.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes } from '../support/engine.js';
import { runRunner, startRunner, StateWatch, writeMigrationFile } from '../support/runner-process.js';

/**
 * One runner per migration: two runners started together (on a migration that does not exist yet, so they
 * also race to create it) → exactly one drives it, the other is refused with a message that names the
 * holder and the way out. A runner killed with SIGKILL keeps the lease until it expires; a rerun started
 * meanwhile waits for that (saying so) and proceeds without --force-takeover, while a live holder (one that
 * renews its lease or writes its state) is still refused. The lease TTL is shortened through MLM_LEASE_TTL_MS.
 */
const TTL_MS = 6000;
const ENV = { MLM_LEASE_TTL_MS: String(TTL_MS) };
const REFUSED = /is being driven by another runner \(\S+\/\d+, lease until [^)]+\)/;

describe('lease: one runner per migration', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('lease');
  const name = uniqueName('lease').replace(/_/g, '-');
  let file = '';

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    await source.db(db).createCollection('c');
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 20_000 }, (_, i): Document => ({ _id: i, pad: 'x'.repeat(100) })));
    file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { batchSize: 500 }\n');
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
  });

  it('two runners at once: exactly one proceeds, the other is refused with a clear message', async () => {
    const [a, b] = await Promise.all([runRunner(['sync', '--config', file], ENV), runRunner(['sync', '--config', file], ENV)]);
    const codes = [a.code, b.code].sort();
    expect(codes, `${a.stderr}\n${b.stderr}`).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(REFUSED);
    expect(loser.stderr).toMatch(new RegExp(`migration "${name}"`));
    expect(loser.stderr).toMatch(/hint: .*wait for the lease to expire \(6 s after its last renewal\) or rerun with --force-takeover/);
    const winner = a.code === 0 ? a : b;
    expect(winner.stdout).toMatch(/sync of .* done: 20,000 documents copied/);
    // The refused runner changed nothing: one history, written by the winner only.
    const doc = (await new StateWatch(destination, name).doc())!;
    expect(doc.phase).toBe('tailing');
    expect(new Set(doc.history.filter((h) => h.phase !== 'created').map((h) => h.runner)).size).toBe(1);
    expect(doc.lease).toBeNull();
    expect(await destination.db(db).collection('c').countDocuments()).toBe(20_000);
  });

  it('a killed holder: a rerun waits for its lease to expire, saying so, then proceeds', async () => {
    const watch = new StateWatch(destination, name);
    const holder = startRunner(['tail', '--config', file, '--max-duration', '60s'], ENV);
    expect(await watch.until(holder, (doc) => Boolean(doc?.lease?.owner.endsWith(`/${holder.child.pid}`)), 30_000)).toBe(true);
    holder.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    const lease = (await watch.doc())!.lease!;
    expect(lease.owner).toMatch(new RegExp(`/${holder.child.pid}$`));

    // Written while nobody may drive the migration: must arrive with the successor.
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: `late-${i}` })));
    // The rerun of a job whose runner died: started within the dead holder's lease, it waits instead of failing.
    const startedAt = Date.now();
    const rerun = await runRunner(['tail', '--config', file, '--max-duration', '4s'], ENV);
    expect(startedAt).toBeLessThan(lease.expiresAt.getTime());
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`is held by ${lease.owner}`);
    expect(rerun.stderr).toMatch(/waiting up to \d+ s for it to end or, if that runner is gone, for its lease to expire/);
    expect(rerun.stdout).toMatch(/tail of .* ran/);
    const doc = (await watch.doc())!;
    expect(doc.lease).toBeNull();
    expect(doc.history.some((h) => h.runner === lease.owner)).toBe(false);
    expect(await destination.db(db).collection('c').countDocuments({ _id: /^late-/ } as Document)).toBe(100);
    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dst.c).toBe(src.c);
  });

  it('--force-takeover takes a live runner\'s lease; the old runner stops writing and says why', async () => {
    const watch = new StateWatch(destination, name);
    const old = startRunner(['tail', '--config', file, '--max-duration', '60s'], ENV);
    expect(await watch.until(old, (doc) => Boolean(doc?.lease?.owner.endsWith(`/${old.child.pid}`)), 30_000)).toBe(true);
    const successor = startRunner(['tail', '--config', file, '--max-duration', '6s', '--force-takeover'], ENV);
    expect(await watch.until(successor, (doc) => Boolean(doc?.lease?.owner.endsWith(`/${successor.child.pid}`)), 30_000)).toBe(true);
    const tookOverAt = Date.now();
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: `taken-${i}` })));
    const stopped = await old.exited;
    // Within one renewal period (TTL / 3) plus a loop turn, the old runner stops applying; its exit also waits for
    // its clients to close, which under a loaded machine took 7 s once (reliability run): bounded at 1.5 TTL.
    expect(Date.now() - tookOverAt).toBeLessThan(1.5 * TTL_MS);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/error: another runner took over migration ".*" \(this runner's lease lapsed\); this run stops without writing more/);
    const next = await successor.exited;
    expect(next.code, next.stderr).toBe(0);
    expect(await destination.db(db).collection('c').countDocuments({ _id: /^taken-/ } as Document)).toBe(50);
  });

  it('a successor stops the writes a killed runner left running on the destination before it writes anything', async () => {
    // A runner process (tagged as the engine tags its clients) starts a long write, then dies by SIGKILL: the
    // server goes on running the write. Alone, it would take 300 × 50 ms = 15 s.
    const { tag: formerTag, db: slowDb, slow } = await deadRunnerStillWriting('zombie');
    const name2 = uniqueName('zombie').replace(/_/g, '-');
    const store = new StateStore(destination, name2);
    // Only the fields the lease reads: the rest of a migration document plays no part here.
    await store.migrations.insertOne({ _id: name2, lease: { owner: 'gone/1', expiresAt: new Date(), client: formerTag } } as unknown as MigrationDoc);

    const notices: string[] = [];
    // The source as the engine opens it: majority reads by default, which $currentOp refuses unless told otherwise.
    const majoritySource = new MongoClient(sharedClusters().sourceUri, { readConcern: { level: 'majority' } });
    const successor = new LeaseHolder(store, 'successor/2', [majoritySource]);
    const started = Date.now();
    await successor.acquire(true, { onWait: (message) => notices.push(message) });
    const tookMs = Date.now() - started;
    try {
      const landed = await slow.countDocuments({ late: true });
      await sleep(1500);
      // Nothing of the dead runner's lands after the successor holds the lease.
      expect(await slow.countDocuments({ late: true })).toBe(landed);
      expect(landed).toBeGreaterThan(0);
      expect(landed).toBeLessThan(300);
      expect(tookMs).toBeLessThan(5000);
      expect(notices.join('\n')).toMatch(/stopped 1 write\(s\) that the former runner \(gone\/1\) left running/);
      expect(notices.join('\n')).not.toMatch(/still has connections|could not list/);
    } finally {
      await successor.release();
      await majoritySource.close();
      await destination.db(slowDb).dropDatabase();
    }
  });

  it('a runner killed while it drained its own former holder leaves that one to its successor, who stops its writes', async () => {
    // A: a dead runner whose long write still runs. B took the lease over from A and died before A was drained (the
    // state B's takeover wrote: B holds the lease, A is undrained). C takes over from B: it must stop A's write too,
    // not only B's (which has nothing left running).
    const { tag: tagA, db: slowDb, slow } = await deadRunnerStillWriting('chain');
    const name3 = uniqueName('chain').replace(/_/g, '-');
    const store = new StateStore(destination, name3);
    await store.migrations.insertOne({ _id: name3, lease: { owner: 'b/2', expiresAt: new Date(), client: randomUUID() }, undrainedClients: [tagA] } as unknown as MigrationDoc);
    const notices: string[] = [];
    const c = new LeaseHolder(store, 'c/3', [], 3000);
    await c.acquire(true, { onWait: (message) => notices.push(message) });
    try {
      const landed = await slow.countDocuments({ late: true });
      await sleep(1500);
      expect(await slow.countDocuments({ late: true })).toBe(landed);
      expect(landed).toBeLessThan(300);
      expect(notices.join('\n')).toMatch(/stopped 1 write\(s\) that former runners \(b\/2 and 1 before it\) left running/);
      // Both seen drained: none left for a next successor.
      expect((await store.get())?.undrainedClients).toEqual([]);
    } finally {
      await c.release();
      await destination.db(slowDb).dropDatabase();
    }
  });

  it('a takeover records its former holder as undrained in the same write, and keeps it there while its connections stay open', async () => {
    const name4 = uniqueName('undrained').replace(/_/g, '-');
    const store = new StateStore(destination, name4);
    // A former holder that is alive (its connections stay open) and an older one long gone.
    const tagLive = randomUUID();
    const tagGone = randomUUID();
    const live = new MongoClient(sharedClusters().destinationUri, { driverInfo: { name: tagDriverName(tagLive) } });
    await live.connect();
    await live.db('admin').command({ ping: 1 });
    await store.migrations.insertOne({ _id: name4, lease: { owner: 'live/1', expiresAt: new Date(Date.now() + 60_000), client: tagLive }, undrainedClients: [tagGone] } as unknown as MigrationDoc);
    const notices: string[] = [];
    const taking = new LeaseHolder(store, 'next/2', [], 3000);
    const acquired = taking.acquire(true, { onWait: (message) => notices.push(message) });
    try {
      // While it drains, both are recorded (a runner killed now leaves them to its successor).
      await sleep(500);
      expect([...((await store.get())?.undrainedClients ?? [])].sort()).toEqual([tagGone, tagLive].sort());
      await acquired;
      expect(notices.join('\n')).toMatch(/still has connections open after 2 s/);
      expect((await store.get())?.undrainedClients).toEqual([tagLive]);
    } finally {
      await acquired.catch(() => undefined);
      await taking.release();
      await live.close();
    }
  });

  /**
   * A runner process (tagged as the engine tags its clients) that started a write of 300 × 50 ms on the destination
   * and died by SIGKILL once the write was under way: the server goes on running it.
   */
  async function deadRunnerStillWriting(prefix: string): Promise<{ tag: string; db: string; slow: Collection<Document> }> {
    const db = uniqueName(prefix);
    const slow = destination.db(db).collection<Document>('c');
    await slow.insertMany(Array.from({ length: 300 }, (_, i): Document => ({ _id: i })));
    const tag = randomUUID();
    const child = zombieWrite(tag, db);
    await child.started;
    for (let i = 0; i < 50 && (await slow.countDocuments({ late: true })) === 0; i++) await sleep(100);
    child.process.kill('SIGKILL');
    await child.exited;
    return { tag, db, slow };
  }

  function zombieWrite(tag: string, db: string): { process: ReturnType<typeof spawn>; started: Promise<void>; exited: Promise<unknown> } {
    const script = `import { MongoClient } from 'mongodb';
      const client = new MongoClient(process.argv[1], { driverInfo: { name: ${JSON.stringify(tagDriverName(tag))} } });
      await client.connect();
      console.log('started');
      await client.db(${JSON.stringify(db)}).collection('c').updateMany({ $where: 'sleep(50) || true' }, { $set: { late: true } });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, sharedClusters().destinationUri], { stdio: ['ignore', 'pipe', 'inherit'] });
    return { process: child, started: new Promise<void>((resolve) => child.stdout!.once('data', () => resolve())), exited: new Promise((resolve) => child.once('exit', resolve)) };
  }
});
