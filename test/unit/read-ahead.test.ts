import { describe, expect, it } from 'vitest';
import { Timestamp } from 'mongodb';
import type { ReadBatch } from '../../src/engine/capture/batch-reader.js';
import type { ChangeEvent } from '../../src/engine/capture/change-event.js';
import { ReadAhead } from '../../src/engine/capture/read-ahead.js';

let seq = 0;
function event(): ChangeEvent {
  const i = ++seq;
  return { token: { _data: String(i) }, type: 'insert', clusterTime: new Timestamp({ t: 1, i }), wallTime: new Date(1_000 + i), ns: { db: 'app', coll: 'c' }, description: {}, raw: Buffer.alloc(0) };
}

function batchOf(count: number, extra: Partial<ReadBatch> = {}): ReadBatch {
  const events = Array.from({ length: count }, event);
  const last = events[events.length - 1];
  return { events, drained: count === 0, reachedStop: false, lastWall: last?.wallTime, lastTime: last?.clusterTime, token: { _data: `after-${seq}` }, readMs: 1, ...extra };
}

/** A stream whose reads are answered one by one by the test, with the limit each read was given. */
function scriptedStream() {
  const waiting: { max: number; answer: (batch: ReadBatch | Error) => void }[] = [];
  const arrived: (() => void)[] = [];
  const read = (max: number): Promise<ReadBatch> =>
    new Promise((resolve, reject) => {
      waiting.push({ max, answer: (b) => (b instanceof Error ? reject(b) : resolve(b)) });
      arrived.shift()?.();
    });
  const nextRead = async (): Promise<{ max: number; answer: (batch: ReadBatch | Error) => void }> => {
    while (!waiting.length) await new Promise<void>((resolve) => arrived.push(resolve));
    return waiting.shift()!;
  };
  return { read, nextRead, pending: () => waiting.length };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** Stops a reader whose next read is in flight, answering that read (empty) so the stop can end. */
async function stopWhileReading(ahead: ReadAhead<number[]>, stream: ReturnType<typeof scriptedStream>): Promise<void> {
  const stopping = ahead.stop();
  (await stream.nextRead()).answer(batchOf(0));
  await stopping;
}

describe('ReadAhead', () => {
  const prepare = async (events: readonly ChangeEvent[]): Promise<number[]> => events.map((e) => e.clusterTime.low);
  const merge = (all: number[][]): number[] => all.flat();

  it('hands over everything read since the last take as one batch, in order, with the position after the last read', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 100, reads: 4, bytes: 1e9 });
    const first = batchOf(3);
    (await stream.nextRead()).answer(first);
    const second = batchOf(0, { drained: true, token: { _data: 'idle' }, lastWall: undefined, lastTime: undefined });
    (await stream.nextRead()).answer(second);
    const third = batchOf(2);
    (await stream.nextRead()).answer(third);
    await tick();
    const taken = await ahead.take();
    expect(taken.events).toEqual([...first.events, ...third.events]);
    expect(await taken.prepared).toEqual([...first.events, ...third.events].map((e) => e.clusterTime.low));
    expect(taken.token).toEqual(third.token);
    expect(taken.lastWall).toEqual(third.lastWall);
    expect(taken.drained).toBe(false);
    expect(taken.readMs).toBe(3);
    const inFlight = await stream.nextRead(); // the reader went on reading
    const stopping = ahead.stop();
    inFlight.answer(batchOf(1));
    expect(await stopping).toHaveLength(0); // the read that ended while stopping: dropped, nothing looked up
    expect(stream.pending()).toBe(0);
  });

  it('keeps a drained read last: the lag is zero only when nothing followed it', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 100, reads: 4, bytes: 1e9 });
    (await stream.nextRead()).answer(batchOf(2));
    (await stream.nextRead()).answer(batchOf(0, { drained: true, lastWall: undefined, lastTime: undefined }));
    await tick();
    const taken = await ahead.take();
    expect(taken.events).toHaveLength(2);
    expect(taken.drained).toBe(true);
    expect(taken.lastWall).toBeInstanceOf(Date);
    const stopped = ahead.stop();
    (await stream.nextRead()).answer(batchOf(0, { drained: true }));
    expect(await stopped).toHaveLength(0); // the read that ended while stopping: dropped, nothing looked up
  });

  it('reads no further than the limits, asks each read for what is left of the batch, and goes on after a take', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 10, reads: 3, bytes: 1e9 });
    let read = await stream.nextRead();
    expect(read.max).toBe(10);
    read.answer(batchOf(6));
    read = await stream.nextRead();
    expect(read.max).toBe(4);
    read.answer(batchOf(4));
    await tick();
    expect(stream.pending()).toBe(0); // 10 events held: no read until a take
    expect((await ahead.take()).events).toHaveLength(10);
    read = await stream.nextRead();
    expect(read.max).toBe(10);
    read.answer(batchOf(1));
    (await stream.nextRead()).answer(batchOf(1));
    (await stream.nextRead()).answer(batchOf(1));
    await tick();
    expect(stream.pending()).toBe(0); // 3 reads held
    expect((await ahead.take()).events).toHaveLength(3);
    await stopWhileReading(ahead, stream);
  });

  it('starts no read once the events held pass the byte limit (a batch of large events is held alone)', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 100, reads: 4, bytes: 1000 });
    const large = batchOf(2);
    for (const e of large.events) e.raw = Buffer.alloc(600);
    (await stream.nextRead()).answer(large);
    await tick();
    expect(stream.pending()).toBe(0);
    expect((await ahead.take()).events).toHaveLength(2);
    await stopWhileReading(ahead, stream);
  });

  it('a read that ends after stop is not looked up, and the reads held before it are handed back', async () => {
    const stream = scriptedStream();
    const looked: number[] = [];
    const counting = async (events: readonly ChangeEvent[]): Promise<number[]> => {
      looked.push(events.length);
      return prepare(events);
    };
    const ahead = new ReadAhead(stream.read, counting, merge, { events: 100, reads: 4, bytes: 1e9 });
    (await stream.nextRead()).answer(batchOf(2));
    const inFlight = await stream.nextRead();
    const stopping = ahead.stop();
    inFlight.answer(batchOf(3));
    const held = await stopping;
    expect(looked).toEqual([2]);
    expect(await Promise.all(held)).toHaveLength(1);
    expect(stream.pending()).toBe(0);
  });

  it('waits for the next read when nothing is held', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 10, reads: 3, bytes: 1e9 });
    let taken = false;
    const taking = ahead.take().then((b) => ((taken = true), b));
    await tick();
    expect(taken).toBe(false);
    const batch = batchOf(2);
    (await stream.nextRead()).answer(batch);
    expect((await taking).events).toEqual(batch.events);
    await stopWhileReading(ahead, stream);
  });

  it('hands over the reads before a failure, then the failure; reads nothing after it', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 100, reads: 4, bytes: 1e9 });
    const good = batchOf(2);
    (await stream.nextRead()).answer(good);
    (await stream.nextRead()).answer(new Error('cursor killed'));
    await tick();
    expect((await ahead.take()).events).toEqual(good.events);
    await expect(ahead.take()).rejects.toThrow('cursor killed');
    expect(stream.pending()).toBe(0);
    expect(await ahead.stop()).toEqual([]);
  });

  it('stops reading at the stop point', async () => {
    const stream = scriptedStream();
    const ahead = new ReadAhead(stream.read, prepare, merge, { events: 100, reads: 4, bytes: 1e9 });
    (await stream.nextRead()).answer(batchOf(2, { reachedStop: true }));
    const taken = await ahead.take();
    expect(taken.reachedStop).toBe(true);
    await tick();
    expect(stream.pending()).toBe(0);
    await expect(ahead.take()).rejects.toThrow('stop point');
  });

  it('a lookup that fails fails the batch it is merged into', async () => {
    const stream = scriptedStream();
    let calls = 0;
    const failing = async (events: readonly ChangeEvent[]): Promise<number[]> => {
      if (++calls === 2) throw new Error('lookup refused');
      return prepare(events);
    };
    const ahead = new ReadAhead(stream.read, failing, merge, { events: 100, reads: 4, bytes: 1e9 });
    (await stream.nextRead()).answer(batchOf(1));
    (await stream.nextRead()).answer(batchOf(1));
    await tick();
    await expect((await ahead.take()).prepared).rejects.toThrow('lookup refused');
    await stopWhileReading(ahead, stream);
  });
});
