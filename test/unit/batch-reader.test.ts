import { describe, expect, it } from 'vitest';
import { Timestamp } from 'mongodb';
import { readBatch } from '../../src/engine/capture/batch-reader.js';
import type { ChangeEvent } from '../../src/engine/capture/change-event.js';
import type { RawChangeStream } from '../../src/engine/capture/raw-change-stream.js';
import { NamespaceFilter } from '../../src/namespaces.js';

/** A stream that never runs dry: what a busy source looks like to a tail that includes little of it. */
function endlessStream(ns: (i: number) => { db: string; coll: string }): RawChangeStream & { read: number } {
  const stream = {
    read: 0,
    resumeToken: { _data: 'x' },
    bufferedCount: () => 5,
    tryNext: async (): Promise<ChangeEvent> => {
      const i = stream.read++;
      return { token: { _data: String(i) }, type: 'insert', clusterTime: new Timestamp({ t: 1, i: i + 1 }), wallTime: new Date(), ns: ns(i), description: {}, raw: Buffer.alloc(0) };
    },
  };
  // Only the members readBatch uses: the class itself needs a server.
  return stream as unknown as RawChangeStream & { read: number };
}

describe('readBatch', () => {
  const filter = new NamespaceFilter({ include: ['app.*'], exclude: [], rename: {} });

  it('returns after a batch of events read, even when none of them is the migration\'s (it read for ever)', async () => {
    const stream = endlessStream(() => ({ db: 'other', coll: 'busy' }));
    const batch = await readBatch(stream, { batchSize: 100, filter });
    expect(batch.events).toEqual([]);
    expect(batch.drained).toBe(false);
    expect(stream.read).toBe(100);
    expect(batch.lastWall).toBeInstanceOf(Date);
  });

  it('keeps the included events among the others, in stream order', async () => {
    const stream = endlessStream((i) => (i % 3 === 0 ? { db: 'app', coll: 'orders' } : { db: 'other', coll: 'busy' }));
    const batch = await readBatch(stream, { batchSize: 30, filter });
    expect(stream.read).toBe(30);
    expect(batch.events.map((e) => e.clusterTime.low)).toEqual(Array.from({ length: 10 }, (_, k) => 3 * k + 1));
  });
});
