import { describe, expect, it } from 'vitest';
import { Binary, BSON, Int32, Long, ObjectId, Timestamp, UUID, type Document } from 'mongodb';
import { decodeChangeEvent, splitInfo } from '../../src/engine/capture/change-event.js';
import { EXACT_TYPES } from '../../src/engine/copy/raw-insert.js';

/** Events shaped as a 7.0 cluster-wide stream with showExpandedEvents hands them out (field order included). */
const uuid = new UUID('0123456789abcdef0123456789abcdef');
const token = { _data: '8265A1B2C3000000012B042C0100296E5A1004' + 'AB'.repeat(20) };
const base = (operationType: string, extra: Document): Document => ({
  _id: token,
  operationType,
  clusterTime: new Timestamp({ t: 1_700_000_000, i: 7 }),
  wallTime: new Date(1_700_000_000_123),
  collectionUUID: uuid,
  ns: { db: 'shop', coll: 'orders' },
  ...extra,
});
const events: Record<string, Document> = {
  insert: base('insert', { fullDocument: { _id: new ObjectId('65a1b2c3d4e5f60718293a4b'), '2': 'b', '1': 'a', n: new Int32(1) }, documentKey: { _id: new ObjectId('65a1b2c3d4e5f60718293a4b') } }),
  update: base('update', { documentKey: { _id: Long.fromNumber(2 ** 40) } }),
  'update, lookup found nothing': base('update', { documentKey: { _id: 'k' }, fullDocument: null }),
  delete: base('delete', { documentKey: { _id: { a: 1, b: [new Int32(2)] } } }),
  rename: base('rename', { to: { db: 'shop2', coll: 'orders_v2' }, operationDescription: { to: { db: 'shop2', coll: 'orders_v2' }, dropTarget: new Binary(Buffer.from('x')) } }),
  dropDatabase: { _id: token, operationType: 'dropDatabase', clusterTime: new Timestamp({ t: 5, i: 1 }), wallTime: new Date(0), ns: { db: 'shop' } },
  'non-ASCII names': { ...base('insert', { documentKey: { _id: 'é' }, fullDocument: { _id: 'é' } }), ns: { db: 'магазин', coll: 'заказы' } },
};

/** What the event decodes to through the BSON library: the reference the byte reader must agree with. */
function reference(raw: Buffer): Document {
  const doc = BSON.deserialize(raw, EXACT_TYPES);
  const key = doc.documentKey ? Buffer.from(BSON.serialize(doc.documentKey as Document)) : undefined;
  return {
    token: doc._id,
    type: doc.operationType,
    clusterTime: doc.clusterTime,
    wallTime: doc.wallTime,
    ns: doc.ns,
    to: doc.to,
    uuid: doc.collectionUUID ? Buffer.from((doc.collectionUUID as Binary).buffer).toString('hex') : undefined,
    key,
    id: key ? BSON.deserialize(key, EXACT_TYPES)._id : undefined,
    fullDocument: doc.fullDocument === undefined ? undefined : doc.fullDocument === null ? null : Buffer.from(BSON.serialize(doc.fullDocument as Document)),
    description: doc.operationDescription ?? {},
  };
}

describe('decodeChangeEvent reads the routing fields from the bytes', () => {
  for (const [name, event] of Object.entries(events)) {
    it(name, () => {
      const raw = Buffer.from(BSON.serialize(event));
      const decoded = decodeChangeEvent(raw);
      const expected = reference(raw);
      expect({
        token: decoded.token,
        type: decoded.type,
        clusterTime: decoded.clusterTime,
        wallTime: decoded.wallTime,
        ns: decoded.ns,
        to: decoded.to,
        uuid: decoded.uuid,
        key: decoded.key ? Buffer.from(decoded.key) : undefined,
        id: decoded.id,
        fullDocument: decoded.fullDocument ? Buffer.from(decoded.fullDocument) : decoded.fullDocument,
        description: decoded.description,
      }).toEqual(expected);
      expect(decoded.raw).toBe(raw);
      // The document's bytes are the source's, field order included (no JS object in between).
      if (name === 'insert') expect(Buffer.compare(decoded.fullDocument!, Buffer.from(BSON.serialize(event.fullDocument as Document)))).toBe(0);
      expect(decoded.refetch).toBe(event.operationType === 'update' && !('fullDocument' in event) ? true : undefined);
      expect(splitInfo(raw)).toBeUndefined();
    });
  }

  it("an update's delta is kept as the source's bytes (integer-like names in their order)", () => {
    const delta = { $v: new Int32(2), diff: { u: new Map<string, unknown>([['10', new Int32(1)], ['9', 'x']]), sarr: { a: true, l: new Int32(1) } } };
    const raw = Buffer.from(BSON.serialize({ ...events.update, rawUpdateDescription: delta }));
    const decoded = decodeChangeEvent(raw);
    expect(Buffer.from(decoded.delta!).equals(Buffer.from(BSON.serialize(delta)))).toBe(true);
    expect(decoded.refetch).toBe(true);
    expect(decodeChangeEvent(Buffer.from(BSON.serialize(events.update!))).delta).toBeUndefined();
  });

  it('events decoded one after another each get their own type, namespace and UUID (what is reused is equal bytes only)', () => {
    // Neighbours that differ in one byte of the same length: a reuse decided by length, or by a prefix, shows here.
    const variants = [
      { operationType: 'insert', ns: { db: 'shop', coll: 'c1' }, uuid: 'a'.repeat(32) },
      { operationType: 'insert', ns: { db: 'shop', coll: 'c2' }, uuid: 'a'.repeat(31) + 'b' },
      { operationType: 'delete', ns: { db: 'shop', coll: 'c2' }, uuid: 'a'.repeat(31) + 'b' },
      { operationType: 'update', ns: { db: 'shoq', coll: 'c2' }, uuid: 'b'.repeat(32) },
      { operationType: 'update', ns: { db: 'shop' }, uuid: 'b'.repeat(32) },
      { operationType: 'update', ns: { db: 'shop', coll: 'c1' }, uuid: 'a'.repeat(32) },
      { operationType: 'update', ns: { db: 'shop', coll: 'c1' }, uuid: 'c' + 'a'.repeat(31) },
    ];
    for (let round = 0; round < 3; round++) {
      for (const [i, v] of variants.entries()) {
        const raw = Buffer.from(BSON.serialize(base(v.operationType, { documentKey: { _id: i }, collectionUUID: new UUID(v.uuid), ns: v.ns })));
        const decoded = decodeChangeEvent(raw);
        expect({ type: decoded.type, ns: decoded.ns, uuid: decoded.uuid }).toEqual({ type: v.operationType, ns: v.ns, uuid: v.uuid });
      }
    }
  });

  it("a key's _id decodes as the BSON library decodes it, type included, whatever its type", () => {
    const ids: unknown[] = [
      new ObjectId('65a1b2c3d4e5f60718293a4b'), new ObjectId('000000000000000000000000'), new ObjectId('ffffffffffffffffffffffff'),
      new Int32(0), new Int32(-1), new Int32(2 ** 31 - 1), new Int32(-(2 ** 31)), 7,
      Long.fromNumber(7), 1.5, 'k', '', new Binary(Buffer.from('ab')), { a: new Int32(1) }, [new Int32(1)], null, true, new Date(5),
    ];
    for (const _id of ids) {
      const raw = Buffer.from(BSON.serialize(base('delete', { documentKey: { _id } })));
      const key = Buffer.from(BSON.serialize({ _id }));
      expect(decodeChangeEvent(raw).id).toStrictEqual(BSON.deserialize(key, EXACT_TYPES)._id);
    }
    // A key with more than the _id (a sharded collection's) is read through the library, as before.
    const sharded = Buffer.from(BSON.serialize(base('delete', { documentKey: { region: 'eu', _id: new ObjectId('65a1b2c3d4e5f60718293a4b') } })));
    expect(decodeChangeEvent(sharded).id).toStrictEqual(new ObjectId('65a1b2c3d4e5f60718293a4b'));
  });

  it('a split fragment says which it is', () => {
    const raw = Buffer.from(BSON.serialize({ ...events.insert, splitEvent: { fragment: 2, of: 3 } }));
    expect(splitInfo(raw)).toEqual({ fragment: 2, of: 3 });
  });

  it('an event without a resume token or time is refused, not half read', () => {
    expect(() => decodeChangeEvent(Buffer.from(BSON.serialize({ operationType: 'insert', ns: { db: 'a' } })))).toThrow(/_id/);
  });
});
