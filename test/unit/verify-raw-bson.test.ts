import { describe, expect, it } from 'vitest';
import { Binary, BSON, BSONRegExp, BSONSymbol, Code, DBRef, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'mongodb';
import { decodeIdKey, fieldOrderFreeBytes, formatId, hasDollarField, rawElements, rawId, rawIdKey, rawIdType } from '../../src/mongo/raw-bson.js';

/** Fields of every BSON type, placed before _id so that the reader must step over each of them. */
const everyType = {
  double: new Double(1.5),
  string: 'héllo',
  doc: { a: new Int32(1), b: [1, 2] },
  array: [new Int32(1), 'x', { y: null }],
  binary: new Binary(Buffer.from([1, 2, 3]), 0x80),
  uuid: new UUID('0e3b4c1e-8f5a-4d4f-9a1b-2c3d4e5f6a7b'),
  undef: undefined,
  oid: new ObjectId(),
  bool: true,
  date: new Date(0),
  nul: null,
  regex: new BSONRegExp('a.b', 'imx'),
  dbref: new DBRef('other', new ObjectId()),
  code: new Code('return 1'),
  symbol: new BSONSymbol('sym'),
  codeWithScope: new Code('return x', { x: new Int32(1) }),
  int32: new Int32(-5),
  timestamp: new Timestamp({ t: 5, i: 6 }),
  int64: Long.fromString('-9007199254740993'),
  decimal: Decimal128.fromString('-0.00'),
  min: new MinKey(),
  max: new MaxKey(),
};

const ids: [string, unknown, string][] = [
  ['int32', new Int32(1), '1'],
  ['double', new Double(1), '1.0'],
  ['fractional double', new Double(2.5), '2.5'],
  ['int64', Long.fromNumber(1), 'NumberLong("1")'],
  ['decimal128', Decimal128.fromString('1.0'), 'NumberDecimal("1.0")'],
  ['string', 'a "quoted" id', '"a \\"quoted\\" id"'],
  ['ObjectId', new ObjectId('65a000000000000000000001'), 'ObjectId("65a000000000000000000001")'],
  ['date', new Date('2026-11-24T00:00:00Z'), 'ISODate("2026-11-24T00:00:00.000Z")'],
  ['document', { b: new Int32(2), a: 'x' }, '{"b":{"$numberInt":"2"},"a":"x"}'],
  // Integer-like field names, stored "10" before "9": a JS object would put "9" first, another _id.
  ['document with integer-like field names', new Map<string, unknown>([['10', new Int32(1)], ['9', new Map<string, unknown>([['2', 'b'], ['1', ['a', new Map([['7', 1], ['3', 2]])]]])]]), '{"10":{"$numberInt":"1"},"9":{"2":"b","1":["a",{"7":{"$numberInt":"1"},"3":{"$numberInt":"2"}}]}}'],
  ['binary', new Binary(Buffer.from('ab'), 0), '{"$binary":{"base64":"YWI=","subType":"00"}}'],
  ['boolean', false, 'false'],
  ['null', null, 'null'],
  ['MinKey', new MinKey(), '{"$minKey":1}'],
  ['timestamp', new Timestamp({ t: 1, i: 2 }), '{"$timestamp":{"t":1,"i":2}}'],
];

describe('reading the _id of a raw BSON document', () => {
  it.each(ids)('finds a %s _id after fields of every BSON type, and decodes it to the same BSON', (_label, id, shown) => {
    const raw = Buffer.from(BSON.serialize({ ...everyType, _id: id }, { ignoreUndefined: false }));
    const key = rawIdKey(raw)!;
    const alone = Buffer.from(BSON.serialize({ _id: id }));
    // type byte, then "_id\0" in the one-field document, then the value: the key is type + value.
    expect(key).toEqual(Buffer.concat([alone.subarray(4, 5), alone.subarray(9, alone.length - 1)]));
    const decoded = decodeIdKey(key);
    expect(Buffer.from(BSON.serialize({ _id: decoded }))).toEqual(alone);
    expect(formatId(decoded)).toBe(shown);
    expect(rawIdType(raw)).toBe(key[0]);
  });

  it('has no _id type for a document without one', () => {
    expect(rawIdType(Buffer.from(BSON.serialize({ ...everyType })))).toBeUndefined();
  });

  it('tells apart _ids that are equal as numbers but not as BSON', () => {
    const keys = [new Int32(1), new Double(1), Long.fromNumber(1), Decimal128.fromString('1')].map((id) => rawIdKey(Buffer.from(BSON.serialize({ _id: id })))!.toString('hex'));
    expect(new Set(keys).size).toBe(4);
  });

  it('returns undefined for a document without _id', () => {
    expect(rawIdKey(Buffer.from(BSON.serialize({ a: 1 })))).toBeUndefined();
    expect(rawId(Buffer.from(BSON.serialize({})))).toBeUndefined();
  });

  it('is not fooled by a field whose name starts with _id', () => {
    const raw = Buffer.from(BSON.serialize({ _idx: 1, _id: 'real' }));
    expect(decodeIdKey(rawIdKey(raw)!)).toBe('real');
  });

  it('walks every element of every type in stored order', () => {
    const raw = Buffer.from(BSON.serialize({ ...everyType, _id: 1 }, { ignoreUndefined: false }));
    expect([...rawElements(raw)].map((e) => e.name.toString())).toEqual([...Object.keys(everyType), '_id']);
  });
});

describe('field-order-free bytes (time-series measurements)', () => {
  it('are equal whatever the field order, and differ with any type or value', () => {
    const bytes = (doc: object): Buffer => fieldOrderFreeBytes(Buffer.from(BSON.serialize(doc)));
    const t = new Date(0);
    expect(bytes({ t, m: 1, a: new Int32(1), _id: 'x' })).toEqual(bytes({ _id: 'x', a: new Int32(1), m: 1, t }));
    expect(bytes({ t, a: new Int32(1) })).not.toEqual(bytes({ t, a: new Double(1) }));
    expect(bytes({ t, a: new Int32(1) })).not.toEqual(bytes({ t, a: new Int32(2) }));
    // Nested documents keep their own field order: the server stores them whole.
    expect(bytes({ n: { x: 1, y: 2 } })).not.toEqual(bytes({ n: { y: 2, x: 1 } }));
  });
});

describe('hasDollarField', () => {
  const raw = (doc: object): Buffer => Buffer.from(BSON.serialize(doc));
  it('finds a top-level name starting with $, after fields of every type', () => {
    expect(hasDollarField(raw({ ...everyType, $x: 1 }))).toBe(true);
    expect(hasDollarField(raw(new Map<string, unknown>([['$', 1]])))).toBe(true);
  });
  it('not a $ inside a name, in a nested document, in a value, or an empty name', () => {
    expect(hasDollarField(raw({ ...everyType, a$: 1, n: { $b: 1 }, s: '$c' }))).toBe(false);
    expect(hasDollarField(raw(new Map<string, unknown>([['', 1]])))).toBe(false);
    expect(hasDollarField(raw({}))).toBe(false);
  });
});
