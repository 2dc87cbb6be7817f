import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BSON, Timestamp } from 'mongodb';
import { lastWriteTime } from '../../src/mongo/introspection.js';
import { bytesOf } from '../../src/mongo/raw-bson.js';
import { StateStore } from '../../src/engine/state/store.js';
import { DestinationWatch } from '../../src/engine/verify/continuous/destination-watch.js';
import { recheckEntries } from '../../src/engine/verify/continuous/recheck.js';
import { RecheckQueue, type TouchedDocument } from '../../src/engine/verify/continuous/recheck-queue.js';
import { TouchLog } from '../../src/engine/verify/continuous/touch-log.js';
import { TouchedKeys } from '../../src/engine/verify/continuous/touched-keys.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

const terms = { acknowledged: (): void => undefined };
const later = (at: Timestamp, seconds: number): Timestamp => new Timestamp({ t: at.getHighBits() + seconds, i: 1 });

describe('the touch log (one record per tail batch instead of one recheck entry per document)', () => {
  const clients = useSharedClients();

  it('compares a record once the saved position passes it, queues only what differs, and leaves a touch still on its way to its own record', async () => {
    const { source, destination } = clients;
    const db = uniqueName('tlog');
    type Doc = { _id: number; v: string };
    await source.db(db).collection<Doc>('c').insertMany([1, 2, 3].map((i) => ({ _id: i, v: `v${i}` })));
    // 1 equal; 2 wrong on the destination (what verification is for); 3 already holds a later write of the tail,
    // whose batch is logged past the saved position (its event is not in the source as of that position).
    await destination.db(db).collection<Doc>('c').insertMany([{ _id: 1, v: 'v1' }, { _id: 2, v: 'wrong' }, { _id: 3, v: 'v3-next' }]);
    const applied = await lastWriteTime(source, 'majority');
    const store = new StateStore(destination, uniqueName('tlog'));
    const queue = new RecheckQueue(store);
    const log = new TouchLog(store);
    const doc = (id: number, at: Timestamp): TouchedDocument => ({ source: `${db}.c`, target: `${db}.c`, key: Buffer.from(BSON.serialize({ _id: id })), at });
    await log.append([doc(1, applied), doc(2, applied), doc(3, applied)], terms);
    await log.append([doc(3, later(applied, 60))], terms);
    expect(await log.size()).toBe(4);

    // The verifier waits for a page worth a step: more entries due than these three, or one logged long enough ago.
    expect(await log.compareDue(source, destination, queue, applied, { entries: 4, olderThanMs: 60_000 })).toBe(false);
    expect(await log.size()).toBe(4);
    await sleep(1_100); // the record's id holds whole seconds
    expect(await log.compareDue(source, destination, queue, applied, { entries: 4, olderThanMs: 1 })).toEqual({ compared: 3, different: 1 });
    await store.recheck.deleteMany({ m: store.name });
    await log.append([doc(1, applied), doc(2, applied), doc(3, applied)], terms);
    expect(await log.compareDue(source, destination, queue, applied, { entries: 3, olderThanMs: 60_000 })).toEqual({ compared: 3, different: 1 });
    await store.recheck.deleteMany({ m: store.name });

    // Only the first record is due; 3 is left to the second, which is not.
    await log.append([doc(1, applied), doc(2, applied), doc(3, applied)], terms);
    expect(await log.compareDue(source, destination, queue, applied)).toEqual({ compared: 3, different: 1 });
    const entries = await store.recheck.find({ m: store.name }).toArray();
    expect(entries.map((e) => [BSON.deserialize(bytesOf(e.key))._id, e.attempts, e.mismatch])).toEqual([[2, 1, 'content']]);
    expect(await log.size()).toBe(1);
    expect(await log.compareDue(source, destination, queue, applied)).toBe(false);

    // The queue's recheck confirms 2; 3, queued from an earlier difference, waits while its later touch is logged.
    await queue.flag([{ doc: doc(3, applied), kind: 'content' }]);
    await store.recheck.updateMany({ m: store.name }, { $set: { due: new Date(0) } });
    const result = await recheckEntries(source, destination, queue, await queue.next(10), applied, { inFlux: (at) => log.inFlux(at) });
    expect(result.different.map((d) => BSON.deserialize(bytesOf(d.entry.key))._id)).toEqual([2]);
    const after = await store.recheck.find({ m: store.name }, { sort: { key: 1 } }).toArray();
    expect(Object.fromEntries(after.map((e) => [BSON.deserialize(bytesOf(e.key))._id, e.attempts]))).toEqual({ 2: 2, 3: 1 });

    // The cutover moves what is left into the queue, where the frozen check judges every entry.
    expect(await log.expandInto(queue)).toBe(1);
    expect(await log.size()).toBe(0);
  });

  it('the destination watch leaves the tail\'s own writes to the comparison of their record, and queues a write made after it', async () => {
    const { source, destination } = clients;
    const db = uniqueName('tlwatch');
    type Doc = { _id: number; v: string };
    await source.db(db).collection<Doc>('c').insertMany([{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }]);
    await destination.db(db).createCollection('c');
    const store = new StateStore(destination, uniqueName('tlwatch'));
    const queue = new RecheckQueue(store);
    const touched = new TouchedKeys();
    const log = new TouchLog(store, touched);
    const watch = new DestinationWatch(destination, store, queue, (target) => (target.startsWith(`${db}.`) ? target : undefined), { $regex: `^${db}$` }, undefined, touched);
    await watch.open(undefined);
    const queued = async (): Promise<number[]> => (await store.recheck.find({ m: store.name }).toArray()).map((e) => Number(BSON.deserialize(bytesOf(e.key))._id)).sort();
    const pumpAll = async (): Promise<void> => {
      const until = await lastWriteTime(destination, 'applied');
      await store.migrations.updateOne({ _id: store.name }, { $set: { nudge: new Date() } }, { upsert: true });
      while (!(await watch.pump(1000, until)).passed);
    };
    try {
      const at = await lastWriteTime(source, 'majority');
      // The tail logs 1, then writes it; someone else writes 2.
      await log.append([{ source: `${db}.c`, target: `${db}.c`, key: Buffer.from(BSON.serialize({ _id: 1 })), at }], terms);
      await destination.db(db).collection<Doc>('c').insertOne({ _id: 1, v: 'a' });
      await destination.db(db).collection<Doc>('c').insertOne({ _id: 2, v: 'someone else' });
      await pumpAll();
      expect(await queued()).toEqual([2]);
      // The record is compared (equal: nothing queued); a write to 1 after that comparison is queued.
      expect(await log.compareDue(source, destination, queue, await lastWriteTime(source, 'majority'))).toEqual({ compared: 1, different: 0 });
      await pumpAll();
      expect(await queued()).toEqual([2]);
      await destination.db(db).collection<Doc>('c').updateOne({ _id: 1 }, { $set: { v: 'changed behind our back' } });
      await pumpAll();
      expect(await queued()).toEqual([1, 2]);
    } finally {
      await watch.close();
    }
  });
});
