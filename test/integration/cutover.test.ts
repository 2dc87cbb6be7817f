import { afterAll, describe, expect, it } from 'vitest';
import { MongoServerError, type Document, type MongoClient } from 'mongodb';
import { runAbort } from '../../src/commands/abort.js';
import { UserError } from '../../src/errors.js';
import { runCutover } from '../../src/commands/cutover.js';
import { runStatus } from '../../src/commands/status.js';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import type { Progress } from '../../src/model.js';
import { runChildCli, writeConfigFile } from '../support/child-runner.js';
import { sharedClusters, uniqueName, useOwnSource } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts } from '../support/engine.js';

interface Order {
  _id: number;
  v?: number;
  sku?: string;
  at?: Date;
}

const writers: AcknowledgedWriter[] = [];

/** Writes and remembers only what the server acknowledged; keeps going (and counting refusals) after the block. */
class AcknowledgedWriter {
  readonly acknowledged = new Map<number, number>();
  refused = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  constructor(private readonly client: MongoClient, private readonly db: string) {
    writers.push(this);
  }
  start(): void {
    this.loop = (async () => {
      for (let n = 0; !this.stopped; n++) {
        const id = n % 300;
        try {
          await this.client.db(this.db).collection<Order>('orders').updateOne({ _id: id }, { $set: { v: n } }, { upsert: true });
          this.acknowledged.set(id, n);
        } catch (error) {
          if (!(error instanceof MongoServerError)) throw error;
          this.refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function seed(client: MongoClient, db: string): Promise<void> {
  const orders = client.db(db).collection<Order>('orders');
  await client.db(db).createCollection('orders');
  await orders.insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: 1000 + i, sku: `s${i}`, at: new Date() })));
  await orders.createIndexes([{ key: { sku: 1 }, name: 'sku', unique: true, sparse: true }, { key: { at: 1 }, name: 'ttl', expireAfterSeconds: 600 }]);
}

describe('cutover', () => {
  // Its own source: the write block is cluster-wide and would stop every other test's writes.
  const own = useOwnSource({ name: 'cutover-src' });
  afterAll(async () => {
    await Promise.all(writers.map((w) => w.stop().catch(() => undefined)));
  });

  it('under a live writer: loses no acknowledged write, blocks the source, restores indexes; abort lifts the block', async () => {
    const { cluster: rs, source, destination } = own;
    const db = uniqueName('cut');
    await seed(source, db);
    const config = testConfig(uniqueName('cut').replace(/_/g, '-'), rs.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n');
    const writer = new AcknowledgedWriter(source, db);
    writer.start();
    expect((await runSync(config, {}, testPorts())).exitCode).toBe(0);
    await runTail(config, { maxDurationMs: 1500 }, testPorts());

    const refusal = await runCutover(config, { confirm: 'not-the-name' }, testPorts()).catch((e: Error) => e);
    expect(refusal).toBeInstanceOf(Error);
    expect((refusal as Error).message).toContain('does not match the migration name');

    const outcome = await runCutover(config, { confirm: config.name }, testPorts());
    await writer.stop();
    expect(outcome.exitCode, outcome.summary).toBe(0);
    expect(outcome.progress?.phase).toBe('committed');
    expect(outcome.progress?.downtimeSeconds).toBeGreaterThan(0);
    expect(outcome.summary).toMatch(/Next steps/);
    expect(writer.refused).toBeGreaterThan(0);

    // A write attempted on the source now is rejected.
    const blocked = await source.db(db).collection('orders').insertOne({ late: true }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(MongoServerError);

    // Every acknowledged write is on the destination with its acknowledged value; both sides are equal.
    const dst = destination.db(db).collection<Order>('orders');
    for (const [id, v] of writer.acknowledged) expect((await dst.findOne({ _id: id }))?.v, `document ${id}`).toBe(v);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
    const indexes = await dst.listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'sku')).toMatchObject({ unique: true });
    expect(indexes.find((i) => i.name === 'ttl')).toMatchObject({ expireAfterSeconds: 600 });

    const status = await runStatus(config, {}, testPorts());
    expect(status.progress?.sourceWriteBlocked).toBe(true);
    expect(status.summary).toContain('WRITE-BLOCKED');

    // Committed: abort would lift the block under applications that may already use the destination.
    for (const options of [{}, { confirm: 'orders' }, { dropDestination: true }]) {
      const refused = await runAbort(config, options, testPorts()).catch((e: unknown) => e);
      expect(refused, JSON.stringify(options)).toBeInstanceOf(UserError);
      expect((refused as UserError).message).toMatch(/is committed|does not match|--drop-destination removes/);
    }
    expect((await runStatus(config, {}, testPorts())).progress?.sourceWriteBlocked).toBe(true);
    const aborted = await runAbort(config, { confirm: config.name }, testPorts());
    expect(aborted.summary).toContain('write block lifted');
    await source.db(db).collection('orders').insertOne({ afterAbort: true });
  });

  it('refuses to commit when a difference is planted on the destination in the last seconds before the block', async () => {
    const { cluster: rs, source, destination } = own;
    const db = uniqueName('cutplant');
    await seed(source, db);
    const config = testConfig(uniqueName('cutplant').replace(/_/g, '-'), rs.uri, sharedClusters().destinationUri, [db], 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n');
    const writer = new AcknowledgedWriter(source, db);
    writer.start();
    expect((await runSync(config, {}, testPorts())).exitCode).toBe(0);
    // Finalized during tail: the unique index is unique before any cutover, so the block holds no index build. Under
    // the suite's load one 3 s slice may end before the conversion does (CI): slices go on, as a workflow's would.
    const sku = async (): Promise<Document | undefined> => (await destination.db(db).collection('orders').listIndexes().toArray()).find((i) => i.name === 'sku');
    for (let slices = 0; slices < 8 && !(await sku())?.unique; slices++) await runTail(config, { maxDurationMs: 3000 }, testPorts());
    expect(await sku()).toMatchObject({ unique: true });

    let planted = false;
    const ports = {
      ...testPorts(),
      onProgress: (progress: Progress) => {
        // The lag hold is the last thing before the block: a write there is not ours and must stop the commit.
        if (progress.step !== 'lag-hold' || planted) return;
        planted = true;
        void destination.db(db).collection<Order>('orders').updateOne({ _id: 1500 }, { $set: { sku: 'planted' } });
      },
    };
    const outcome = await runCutover(config, { confirm: config.name }, ports);
    await writer.stop();
    expect(planted).toBe(true);
    expect(outcome.exitCode, outcome.summary).toBe(1);
    expect(outcome.progress?.phase).toBe('cutting-over');
    expect(outcome.verification?.mismatches.map((m) => `${m.kind} ${(m.ids ?? []).join(',')}`)).toEqual(['content 1500']);
    expect(outcome.summary).toMatch(/did not commit/);
    const lifted = await runAbort(config, { confirm: config.name }, testPorts());
    expect(lifted.summary).toContain('write block lifted');
  });

  it('killed at every step, the same command run again finishes the cutover', async () => {
    const { cluster: rs, source, destination } = own;
    const db = uniqueName('cutkill');
    await seed(source, db);
    const name = uniqueName('cutkill').replace(/_/g, '-');
    const extra = 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n';
    const file = writeConfigFile(name, [db], extra);
    const env = { SOURCE_URI: rs.uri, DESTINATION_URI: sharedClusters().destinationUri };
    const config = testConfig(name, rs.uri, sharedClusters().destinationUri, [db], extra);
    const writer = new AcknowledgedWriter(source, db);
    writer.start();
    expect((await runSync(config, {}, testPorts())).exitCode).toBe(0);

    const points = ['before-block', 'after-block', 'before-final-time', 'before-drain', 'before-verify', 'before-restore-indexes', 'before-commit', 'before-committed'];
    for (const point of points) {
      const killed = await runChildCli(['cutover', '--config', file, '--confirm', name, '--force-takeover', '--log-level', 'warn'], { ...env, MLM_FAILPOINT: `cutover:${point}` });
      expect(killed.signal, `${point}: ${killed.stderr}`).toBe('SIGKILL');
      const status = await runStatus(config, {}, testPorts());
      expect(status.progress?.phase, point).toBe('cutting-over');
      if (point !== 'before-block') expect(status.progress?.sourceWriteBlocked, point).toBe(true);
    }
    const done = await runChildCli(['cutover', '--config', file, '--confirm', name, '--force-takeover'], env);
    await writer.stop();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('committed');
    for (const [id, v] of writer.acknowledged) expect((await destination.db(db).collection<Order>('orders').findOne({ _id: id }))?.v).toBe(v);
    expect(await dbHashes(destination, db)).toEqual(await dbHashes(source, db));
    const lifted = await runAbort(config, { confirm: name }, testPorts());
    expect(lifted.summary).toContain('write block lifted');
  });
});
