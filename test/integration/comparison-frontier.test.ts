import { describe, expect, it } from 'vitest';
import { BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'mongodb';
import { decodeChangeEvent } from '../../src/engine/capture/change-event.js';
import { StateStore } from '../../src/engine/state/store.js';
import { RecheckFeed } from '../../src/engine/verify/continuous/feed.js';
import { ComparisonFrontier } from '../../src/engine/verify/continuous/frontier.js';
import { isAfter } from '../../src/engine/verify/continuous/id-order.js';
import { comparePartitionStep, openPartitions, planVerifyPartitions } from '../../src/engine/verify/continuous/partition-compare.js';
import { RecheckQueue } from '../../src/engine/verify/continuous/recheck-queue.js';
import { bytesOf, rawIdKey } from '../../src/mongo/raw-bson.js';
import { lastWriteTime } from '../../src/mongo/introspection.js';
import { NamespaceFilter } from '../../src/namespaces.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

describe('the comparison frontier against a real server', () => {
  const clients = useSharedClients();

  it("decides `_id` order exactly as the server sorts, and never claims an order it cannot know", async () => {
    const coll = clients.source.db(uniqueName('order')).collection<Document>('c');
    const ids: unknown[] = [
      new Int32(0), new Int32(-5), new Int32(2_147_483_647), Long.fromString('9007199254740993'), Long.fromString('-9223372036854775808'),
      Long.fromString('9223372036854775807'), new Double(0.5), new Double(-0.5), new Double(9007199254740992), new Double(1e300), new Double(-Infinity),
      new Double(Infinity), new Double(Number.NaN), new Double(2.25), Long.fromNumber(3), Decimal128.fromString('2.5'),
      '', 'a', 'ab', 'b', 'B', 'é', 'e\u0301', 'z', '\u{1F600}', 'a\u0000b',
      new ObjectId('000000000000000000000000'), new ObjectId('ffffffffffffffffffffffff'), new ObjectId('65a1b2c3d4e5f60718293a4b'),
      new Date(-86_400_000), new Date(0), new Date(8.64e15), new Date(-8.64e15),
      new Timestamp({ t: 1, i: 1 }), { a: 1 }, true,
    ];
    await coll.insertMany(ids.map((_id): Document => ({ _id })));
    // The server's order: the collection's _id index, read back as the raw keys the frontier sees.
    const sorted = (await coll.find({}, { sort: { _id: 1 }, raw: true }).toArray()) as unknown as Buffer[];
    const keys = sorted.map((raw) => rawIdKey(Buffer.from(raw))!);
    expect(keys).toHaveLength(ids.length);
    let decided = 0;
    for (let i = 0; i < keys.length; i++) {
      for (let j = 0; j < keys.length; j++) {
        const after = isAfter(keys[i]!, keys[j]!, { binaryStrings: true });
        if (after) {
          decided++;
          expect(i, `${BSON.EJSON.stringify(BSON.deserialize(sorted[i]!))} after ${BSON.EJSON.stringify(BSON.deserialize(sorted[j]!))}`).toBeGreaterThan(j);
        }
      }
    }
    // Every pair of two numbers (decimal aside), two strings, two ObjectIds or two dates is decided.
    const classOf = (key: Buffer): string | undefined => ({ 1: 'n', 16: 'n', 18: 'n', 2: 's', 7: 'o', 9: 'd' } as Record<number, string>)[key[0]!];
    let decidable = 0;
    for (let i = 0; i < keys.length; i++) for (let j = 0; j < i; j++) if (classOf(keys[i]!) && classOf(keys[i]!) === classOf(keys[j]!)) decidable++;
    expect(decided).toBe(decidable);
  });

  it('the feed leaves to a partition what it has still to read, the comparison finds a wrong document there, and what it has read is queued', async () => {
    const { source, destination } = clients;
    const db = uniqueName('front');
    const docs = Array.from({ length: 100 }, (_, i): Document => ({ _id: i + 1, v: `v${i + 1}` }));
    await source.db(db).collection<Document>('c').insertMany(docs);
    await destination.db(db).collection<Document>('c').insertMany(docs);
    const store = new StateStore(destination, uniqueName('front'));
    const frontier = new ComparisonFrontier();
    const queue = new RecheckQueue(store);
    const filter = new NamespaceFilter({ include: [`${db}.*`], exclude: [], rename: {} });
    const feed = new RecheckFeed(store, filter, frontier);
    const terms = { acknowledged: (): void => undefined };
    // Queued, or logged by the feed for a recheck (see touch-log.ts): what a recheck will compare.
    const queued = async (): Promise<number[]> => {
      const entries = (await store.recheck.find({ m: store.name }).toArray()).map((e) => e.key);
      const logged = (await store.touchLog.find({ m: store.name }).toArray()).flatMap((r) => r.k);
      return [...new Set([...entries, ...logged].map((k) => Number(BSON.deserialize(bytesOf(k))._id)))].sort((a, b) => a - b);
    };
    const touch = (id: number): Parameters<RecheckFeed['observe']>[0] => {
      const raw = Buffer.from(BSON.serialize({ _id: { _data: `82${id}` }, operationType: 'update', clusterTime: new Timestamp({ t: 1, i: id }), ns: { db, coll: 'c' }, documentKey: { _id: id } }));
      return [decodeChangeEvent(raw)];
    };

    const [planned] = await planVerifyPartitions(source, destination, store, { source: `${db}.c`, target: `${db}.c` }, frontier);
    expect(planned?.typeClass).toBe('number');
    // Not started: the comparison will read 50, so the feed writes nothing for it.
    await feed.observe(touch(50), terms);
    expect(await queued()).toEqual([]);
    // The applier then writes it wrongly on the destination (what verification is there to catch).
    await destination.db(db).collection<Document>('c').updateOne({ _id: 50 } as Document, { $set: { v: 'wrong' } });

    // A step of 30: the partition has read 1..30.
    const before = await lastWriteTime(source, 'applied');
    let [open] = await openPartitions(store, 1);
    await comparePartitionStep(source, destination, store, queue, open!, 30, { frontier, moving: true });
    await feed.observe([...touch(20), ...touch(40)], terms);
    expect(await queued()).toEqual([20]); // 20 was read already; 40 will be
    // The rest of the partition: the comparison queues the wrong document itself, stamped so that its recheck
    // waits for the tail to pass the time the step began.
    for (;;) {
      [open] = await openPartitions(store, 1);
      if (!open) break;
      await comparePartitionStep(source, destination, store, queue, open, 30, { frontier, moving: true });
    }
    expect(await queued()).toEqual([20, 50]);
    const wrong = (await store.recheck.find({ m: store.name }).toArray()).find((e) => BSON.deserialize(bytesOf(e.key))._id === 50);
    expect(wrong?.lastEvent && !wrong.lastEvent.lessThan(before)).toBe(true);
    // Done: everything touched from now on is queued.
    await feed.observe(touch(99), terms);
    expect(await queued()).toEqual([20, 50, 99]);
  });

  it('resumes after the exact last _id compared: an embedded-document _id with integer-like field names is not read back reordered', async () => {
    const { source, destination } = clients;
    const db = uniqueName('resumecmp');
    // {"10": i, "9": 0}: read back as a JS object, "9" comes first, an _id after every one of these; a step resuming
    // after it compared nothing more, and the wrong document below went unseen.
    const idOf = (i: number): Map<string, unknown> => new Map<string, unknown>([['10', i], ['9', 0]]);
    const docs = Array.from({ length: 100 }, (_, i) => new Map<string, unknown>([['_id', idOf(i)], ['v', i]]));
    await source.db(db).collection('c').insertMany(docs as unknown as Document[]);
    await destination.db(db).collection('c').insertMany(docs as unknown as Document[]);
    await destination.db(db).collection('c').updateOne({ _id: idOf(70) } as unknown as Document, { $set: { v: 'wrong' } });
    const store = new StateStore(destination, uniqueName('resumecmp'));
    const queue = new RecheckQueue(store);
    await planVerifyPartitions(source, destination, store, { source: `${db}.c`, target: `${db}.c` });
    let steps = 0;
    for (let [open] = await openPartitions(store, 1); open; [open] = await openPartitions(store, 1)) {
      await comparePartitionStep(source, destination, store, queue, open, 30, { moving: false });
      steps++;
    }
    expect(steps).toBe(4);
    const entries = await store.recheck.find({ m: store.name }).toArray();
    // The wrong document alone, by its exact key.
    expect(entries.map((e) => bytesOf(e.key).toString('hex'))).toEqual([Buffer.from(BSON.serialize(new Map([['_id', idOf(70)]]))).toString('hex')]);
  });
});

