import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Timestamp } from 'mongodb';
import { RawChangeStream } from '../../src/engine/capture/raw-change-stream.js';
import type { ChangeEvent } from '../../src/engine/capture/change-event.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

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
