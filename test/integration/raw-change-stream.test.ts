import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Collection, type Timestamp } from 'mongodb';
import { RawChangeStream } from '../../src/engine/capture/raw-change-stream.js';
import type { ChangeEvent } from '../../src/engine/capture/change-event.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';

/**
 * The stream reads its next batch while the caller works on the current one. The position it reports must
 * still cover only what it handed out: the server's token after a batch read ahead is not the position.
 */
describe('raw change stream read-ahead', () => {
  const clients = useSharedClients();

  it('reports, after the last event of a batch, a position that does not skip the batch read ahead', { timeout: 60_000 }, async () => {
    const db = uniqueName('ahead');
    const coll = clients.source.db(db).collection<{ _id: unknown }>('c');
    await coll.insertOne({ _id: 'first' });
    const start = ((await clients.source.db('admin').command({ hello: 1 })).lastWrite as { majorityOpTime: { ts: Timestamp } }).majorityOpTime.ts;
    await coll.insertMany([1, 2, 3, 4, 5, 6].map((n) => ({ _id: n })));
    const mine = (e: ChangeEvent | null): boolean => e?.ns.db === db;

    const stream = await RawChangeStream.open(clients.source, { startAtOperationTime: start }, { batchSize: 2 });
    const seen: unknown[] = [];
    try {
      // Hand out events one at a time, leaving the read-ahead time to land before each next one of ours. Only after
      // ours: the shared source carries the other test files' writes too, and a pause after each of those made
      // this test outlast its timeout when a busy file wrote in between (seen once in CI).
      while (seen.length < 3) {
        const event = await stream.tryNext();
        if (!mine(event)) continue;
        if (typeof event!.id !== 'string') seen.push(Number(event!.id));
        await sleep(300);
      }
    } finally {
      await stream.close();
    }
    const token = stream.resumeToken;
    expect(token).toBeDefined();
    const resumed = await RawChangeStream.open(clients.source, { resumeAfter: token! }, { batchSize: 10 });
    try {
      let next: ChangeEvent | null = null;
      for (let i = 0; i < 20 && !mine(next); i++) next = await resumed.tryNext();
      expect(seen.length).toBe(3);
      expect(Number(next?.id), `resumed after ${JSON.stringify(seen)}`).toBe(Number(seen[2]) + 1);
    } finally {
      await resumed.close();
    }
  });
});

/**
 * The server ends a getMore's reply at 16 MB whatever the batch size; with large documents every reply was that
 * size, and the tail held several at once (bench/README.md, "Large documents"). The stream asks for fewer events
 * once it has seen how large they are, and for whole batches again once they are small.
 */
/** Events of ~80 KB: 320 of them are 26 MB, more than one reply holds. */
const large = 320;

/** `count` inserts of ~80 KB into `db`.c after one small one, and the stream position just before them. */
async function largeEvents(source: MongoClient, db: string, count: number): Promise<{ coll: Collection<{ _id: number; pad?: string }>; start: Timestamp }> {
  const coll = source.db(db).collection<{ _id: number; pad?: string }>('c');
  await coll.insertOne({ _id: -1 });
  const start = ((await source.db('admin').command({ hello: 1 })).lastWrite as { majorityOpTime: { ts: Timestamp } }).majorityOpTime.ts;
  for (let n = 0; n < count; n += 20) await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: n + i, pad: 'x'.repeat(80_000) })));
  return { coll, start };
}

describe('raw change stream read size', () => {
  const clients = useSharedClients();

  it('asks for replies of about 4 MB while events are large, for whole batches again after, and hands out every event in order', { timeout: 120_000 }, async () => {
    const db = uniqueName('readsize');
    const { coll, start } = await largeEvents(clients.source, db, large);
    await coll.insertMany(Array.from({ length: 600 }, (_, i) => ({ _id: large + i })));

    // Its own client, to see the getMores it sends and what came back.
    const { sourceUri } = sharedClusters();
    const client = new MongoClient(sourceUri, { monitorCommands: true });
    const asked: number[] = [];
    const replied: number[] = [];
    client.on('commandStarted', (e) => {
      if (e.commandName === 'getMore') asked.push(Number(e.command.batchSize));
    });
    client.on('commandSucceeded', (e) => {
      const batch = (e.reply as { cursor?: { nextBatch?: unknown[] } }).cursor?.nextBatch;
      if (e.commandName === 'getMore' && batch?.length) replied.push(batch.length);
    });
    const stream = await RawChangeStream.open(client, { startAtOperationTime: start }, { batchSize: 2_500, match: { 'ns.db': db } });
    const ids: number[] = [];
    try {
      while (ids.length < large + 600) {
        const event = await stream.tryNext();
        // The start may precede the first insert (the majority point then): it is not one of the large ones.
        if (event?.type === 'insert' && Number(event.id) >= 0) ids.push(Number(event.id));
      }
    } finally {
      await stream.close();
      await client.close();
    }
    expect(ids).toEqual(Array.from({ length: large + 600 }, (_, i) => i));
    // The first getMore knows nothing yet (the server cut it at 16 MB: ~200 events); the ones after a read of large
    // events ask for ~4 MB of them; once small events were read, for the whole batch again.
    const perLarge = Math.floor((4 * 1024 * 1024) / 80_000);
    expect(asked[0]).toBe(2_500);
    expect(asked.some((n) => n <= perLarge + 1), `asked ${asked.join(', ')}`).toBe(true);
    // Every reply after the first that still held only large events.
    const onlyLarge: number[] = [];
    for (let i = 1, read = replied[0]!; i < replied.length && read + replied[i]! <= large; read += replied[i++]!) onlyLarge.push(replied[i]!);
    expect(onlyLarge.length, `replied ${replied.join(', ')}`).toBeGreaterThanOrEqual(1);
    expect(Math.max(...onlyLarge), `replied ${replied.join(', ')}`).toBeLessThanOrEqual(perLarge + 1);
    expect(asked[asked.length - 1]).toBe(2_500);
  });
});

/**
 * After an election or a killed cursor the stream opens a new server cursor where it stood. The size the closed
 * cursor measured carries over: the reopened cursor's first getMore asked for the whole batch size, one 16 MB reply
 * of large events after every reopen.
 */
describe('raw change stream reopened among large events', () => {
  const clients = useSharedClients();

  it('asks the reopened cursor for replies of about 4 MB at once, and hands out every event once, in order', { timeout: 120_000 }, async () => {
    const db = uniqueName('reopensize');
    const { start } = await largeEvents(clients.source, db, large);

    const { sourceUri } = sharedClusters();
    const client = new MongoClient(sourceUri, { monitorCommands: true });
    const commands: { name: string; batchSize?: number }[] = [];
    let cursorId: unknown;
    client.on('commandStarted', (e) => {
      if (e.commandName === 'getMore') {
        commands.push({ name: 'getMore', batchSize: Number(e.command.batchSize) });
        cursorId = e.command.getMore;
      } else if (e.commandName === 'aggregate') commands.push({ name: 'aggregate' });
    });
    const stream = await RawChangeStream.open(client, { startAtOperationTime: start }, { batchSize: 2_500, match: { 'ns.db': db } });
    const ids: number[] = [];
    let killed = false;
    try {
      while (ids.length < large) {
        const event = await stream.tryNext();
        if (event?.type === 'insert' && Number(event.id) >= 0) ids.push(Number(event.id));
        if (!killed && ids.length >= 100) {
          // What an election or the server's cursor timeout does to the stream's cursor.
          await clients.source.db('admin').command({ killCursors: '$cmd.aggregate', cursors: [cursorId] });
          killed = true;
        }
      }
    } finally {
      await stream.close();
      await client.close();
    }
    expect(ids).toEqual(Array.from({ length: large }, (_, i) => i));
    const reopened = commands.findIndex((c, i) => c.name === 'aggregate' && i > 0);
    expect(reopened, JSON.stringify(commands)).toBeGreaterThan(0);
    const perLarge = Math.floor((4 * 1024 * 1024) / 80_000);
    const firstAfter = commands.slice(reopened).find((c) => c.name === 'getMore');
    expect(firstAfter?.batchSize, JSON.stringify(commands)).toBeLessThanOrEqual(perLarge + 1);
  });
});
