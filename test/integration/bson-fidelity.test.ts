import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Binary, BSON, BSONRegExp, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID, type Document, type MongoClient } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { dbHashes, everyTypeDocument, rawHash, testConfig, testPorts } from '../support/engine.js';
import { StateWatch } from '../support/runner-process.js';

/**
 * Every BSON type survives exactly, through each path a document can take: the copy, the capture buffer
 * (changes while copying, replayed), and the live tail. Equality is the server's dbHash (bytes and types),
 * so an integral double turned int32 or a regex that lost a flag would show.
 */
const SUBTYPES = [0, 1, 2, 3, 4, 5, 6, 0x80];

function binaries(): Document {
  const out: Document = {};
  for (const subtype of SUBTYPES) out[`bin${subtype}`] = new Binary(Buffer.from(`payload-${subtype}-0123456789abcdef`.slice(0, 16)), subtype);
  out.uuid = new UUID('0f8fad5b-d9cb-469f-a165-70867728950e').toBinary();
  return out;
}

function odd(id: unknown): Document {
  return {
    _id: id,
    ...binaries(),
    dates: [new Date(-1), new Date('1900-01-01T00:00:00Z'), new Date('1969-12-31T23:59:59.999Z'), new Date(-62135596800000), new Date(253402300799999)],
    regexes: [new BSONRegExp('^a.b$', 'imsx'), new BSONRegExp('x', 'u'), new BSONRegExp('', '')],
    code: new Code('function () { return 1; }'),
    codeWithScope: new Code('function () { return x; }', { x: new Int32(1), y: [new Double(2)] }),
    numbers: [new Double(1), new Double(-0), new Double(Number.NaN), new Double(Infinity), new Int32(-2147483648), Long.MIN_VALUE, Long.MAX_VALUE, Decimal128.fromString('-0'), Decimal128.fromString('1E+6144'), Decimal128.fromString('NaN')],
    timestamps: [new Timestamp({ t: 0, i: 0 }), new Timestamp({ t: 4294967295, i: 4294967295 })],
    keys: [new MinKey(), new MaxKey()],
    nested: [[[[]]], [{}], [null, [new Int32(1), [Long.fromNumber(2), [new Double(3)]]]]],
    'dotted.name': 1,
    $dollar: { $inner: 'dollar-prefixed field names', 'x.y': 2 },
    empty: '',
    unicode: 'zürich ✓ 東京 \u0000 nul',
  };
}

/** `levels` nested objects below the top level. */
function deep(id: unknown, levels: number): Document {
  let inner: Document = { leaf: new Int32(levels) };
  for (let i = 1; i < levels; i++) inner = { l: inner, i: new Int32(i) };
  return { _id: id, deep: inner };
}

function manyFields(id: unknown, count: number): Document {
  const doc: Document = { _id: id };
  for (let i = 0; i < count; i++) doc[`f${i}`] = i % 3 === 0 ? new Double(i) : i % 3 === 1 ? new Int32(i) : Long.fromNumber(i);
  return doc;
}

/** A document of `bytes` BSON bytes (within a few), made of a string and a binary. */
function nearLimit(id: unknown, bytes: number): Document {
  const base = { _id: id, bin: new Binary(Buffer.alloc(1024 * 1024, 7), 0), s: '' };
  const missing = bytes - BSON.calculateObjectSize(base);
  return { ...base, s: 's'.repeat(missing) };
}

const MIXED_IDS: unknown[] = [
  new Int32(1), Long.fromNumber(2), new Double(3.5), Decimal128.fromString('4.25'), 'five', { six: 6, nested: { k: 'v' } }, new Binary(Buffer.from('seven'), 0),
  new UUID('2f8fad5b-d9cb-469f-a165-70867728950e').toBinary(), new ObjectId('64b7f0c2a1b2c3d4e5f60718'), false, new Date(-86_400_000), new Timestamp({ t: 1, i: 2 }), new MinKey(), new MaxKey(), null,
];

describe('BSON fidelity through copy, capture and tail', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('bson');
  const BIG = 16 * 1024 * 1024 - 64;

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    const sdb = source.db(db);
    for (const coll of ['types', 'big', 'filler']) await sdb.createCollection(coll);
    await sdb.collection('types').insertMany(MIXED_IDS.map((id) => everyTypeDocument(id)));
    await sdb.collection('types').insertMany([odd('odd-copied'), deep('deep-copied', 100), manyFields('fields-copied', 10_000)]);
    await sdb.collection('big').insertOne(nearLimit('big-copied', BIG));
    // Enough to copy for a few seconds, so that changes made meanwhile go through the capture buffer.
    await sdb.collection<Document>('filler').insertMany(Array.from({ length: 30_000 }, (_, i): Document => ({ _id: i, pad: 'f'.repeat(50) })));
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
  });

  it('every type, odd shapes and a near-16 MB document arrive exactly', async () => {
    const config = testConfig(uniqueName('bson').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db], 'sync: { batchSize: 100, parallelCollections: 1 }\ncutover: { maxLagSeconds: 5 }\n');
    const types = source.db(db).collection<Document>('types');
    const big = source.db(db).collection<Document>('big');
    const watch = new StateWatch(destination, config.name);
    const sync = runSync(config, {}, testPorts('bson-sync'));
    // While the copy runs (captured into the buffer, then replayed).
    for (;;) {
      const doc = await watch.doc();
      if (doc?.captureStart && doc.step === 'copy') break;
      await sleep(20);
    }
    await changeEverything('buffered');
    expect((await watch.doc())?.copy.finishedAt, 'changes were made after the copy').toBeUndefined();
    const synced = await sync;
    expect(synced.exitCode, synced.summary).toBe(0);
    expect((await watch.doc())?.eventsApplied).toBeGreaterThan(0);

    // While tailing.
    const tail = runTail(config, { maxDurationMs: 8000 }, testPorts('bson-tail'));
    await sleep(500);
    await changeEverything('tailed');
    const tailed = await tail;
    expect(tailed.exitCode, tailed.summary).toBe(0);

    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    for (const coll of ['types', 'big', 'filler']) {
      expect(await destination.db(db).collection(coll).countDocuments(), `${coll} count`).toBe(await source.db(db).collection(coll).countDocuments());
      expect(dst[coll], `${coll} dbHash`).toBe(src[coll]);
      expect(await rawHash(destination, db, coll), `${coll} raw bytes`).toEqual(await rawHash(source, db, coll));
    }
    const back = await destination.db(db).collection('types').findOne({ _id: 'odd-tailed' } as Document, { promoteValues: false, bsonRegExp: true });
    expect((back?.regexes as BSONRegExp[])[0]?.options).toBe('imsx');
    expect((back?.bin128 as Binary).sub_type).toBe(0x80);
    expect(back?.codeWithScope).toBeInstanceOf(Code);
    expect((back?.codeWithScope as Code).scope).toBeTruthy();
    expect(back?.$dollar).toEqual({ $inner: 'dollar-prefixed field names', 'x.y': new Int32(2) });

    async function changeEverything(tag: string): Promise<void> {
      await types.insertMany([odd(`odd-${tag}`), deep(`deep-${tag}`, 100), manyFields(`fields-${tag}`, 10_000)]);
      for (const [i, id] of MIXED_IDS.entries()) {
        const doc = everyTypeDocument(id);
        // Updates that carry every type, including array changes and $unset.
        if (i % 3 === 0) await types.updateOne({ _id: id } as Document, { $set: { [`set-${tag}`]: odd(tag), 'object.nested.deep': [new Decimal128('1.10'), new Timestamp({ t: 9, i: 9 })] }, $unset: { string: '' } });
        else if (i % 3 === 1) await types.replaceOne({ _id: id } as Document, { ...doc, replaced: tag, int64: Long.fromString('-9007199254740993') });
        else await types.updateOne({ _id: id } as Document, { $push: { array: { $each: [new MinKey(), new BSONRegExp('y', 'ix'), new Binary(Buffer.from('z'), 0x80)] } }, $inc: { int32: new Int32(1) } } as Document);
      }
      await types.updateOne({ _id: 'odd-copied' } as Document, { $set: { [`codeWithScope-${tag}`]: new Code('function () { return z; }', { z: new Date(-5) }), 'dotted.name': 2 } });
      await types.updateOne({ _id: 'deep-copied' } as Document, { $set: { tag } });
      await types.updateOne({ _id: 'fields-copied' } as Document, { $set: { f5000: new Double(5000), [`new-${tag}`]: new Int32(1) } });
      await types.deleteOne({ _id: new MaxKey() } as Document);
      await types.insertOne(everyTypeDocument(new MaxKey()));
      // The near-16 MB document: changed, replaced, and a new one inserted.
      await big.updateOne({ _id: 'big-copied' } as Document, { $set: { tag } });
      await big.insertOne(nearLimit(`big-${tag}`, BIG));
      await big.replaceOne({ _id: `big-${tag}` } as Document, nearLimit(`big-${tag}`, BIG - 10));
    }
  });
});
