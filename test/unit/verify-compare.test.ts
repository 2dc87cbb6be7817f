import { describe, expect, it } from 'vitest';
import { BSON, Double, Int32, Long } from 'mongodb';
import { OrderIndependentHash } from '../../src/engine/verify/content-hash.js';
import { canonical } from '../../src/mongo/canonical.js';
import { compareIndexes } from '../../src/engine/verify/index-compare.js';
import { compareOptions } from '../../src/engine/verify/options-compare.js';

const docs = Array.from({ length: 200 }, (_, i) => Buffer.from(BSON.serialize({ _id: i, v: 'x'.repeat(i % 17) })));

function hashOf(list: Buffer[]): string {
  const h = new OrderIndependentHash();
  for (const d of list) h.add(d);
  return h.hex();
}

describe('the order-independent hash', () => {
  it('does not depend on the order documents arrive in', () => {
    const shuffled = [...docs].sort(() => Math.random() - 0.5);
    expect(hashOf(shuffled)).toBe(hashOf(docs));
    expect(hashOf([...docs].reverse())).toBe(hashOf(docs));
  });

  it('changes with one byte, one BSON type, or one document more or less', () => {
    const base = hashOf(docs);
    const int32 = Buffer.from(BSON.serialize({ _id: 0, v: new Int32(1) }));
    const double = Buffer.from(BSON.serialize({ _id: 0, v: new Double(1) }));
    expect(hashOf([...docs.slice(1), int32])).not.toBe(hashOf([...docs.slice(1), double]));
    expect(hashOf(docs.slice(1))).not.toBe(base);
    expect(hashOf([...docs, Buffer.from(BSON.serialize({ _id: 'extra' }))])).not.toBe(base);
  });

  it('keeps a 256-bit sum: the empty hash is zero and carries propagate', () => {
    expect(new OrderIndependentHash().hex()).toBe('0'.repeat(64));
    const h = new OrderIndependentHash();
    for (let i = 0; i < 10_000; i++) h.add(Buffer.from([i & 0xff, i >> 8]));
    expect(h.count).toBe(10_000);
    expect(h.hex()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('canonical text of metadata', () => {
  it('compares numbers by value whatever their BSON type, and keeps key order', () => {
    expect(canonical({ a: new Int32(1) })).toBe(canonical({ a: new Double(1) }));
    expect(canonical({ a: Long.fromNumber(3600) })).toBe(canonical({ a: 3600 }));
    expect(canonical({ a: 1, b: 1 })).not.toBe(canonical({ b: 1, a: 1 }));
  });
});

describe('index comparison', () => {
  const id = { v: 2, key: { _id: 1 }, name: '_id_' };
  const ab = { v: 2, key: { a: 1, b: -1 }, name: 'ab', unique: true };

  it('ignores v and ns and the order of the spec fields, but not the order inside key', () => {
    expect(compareIndexes([id, ab], [{ name: 'ab', unique: true, key: { a: 1, b: -1 }, v: 1, ns: 'x.y' }, id], new Set())).toEqual([]);
    expect(compareIndexes([ab], [{ ...ab, key: { b: -1, a: 1 } }], new Set())).toEqual([
      { kind: 'changed', name: 'ab', detail: 'index ab differs: key: source {"a":1,"b":-1}, destination {"b":-1,"a":1}' },
    ]);
  });

  it('reports missing and extra indexes by name, and treats unique: false as no unique', () => {
    const plain = { v: 2, key: { c: 1 }, name: 'c_1' };
    expect(compareIndexes([id, ab], [id, { ...plain, unique: false }], new Set())).toEqual([
      { kind: 'missing', name: 'ab', detail: 'index ab {"a":1,"b":-1} is missing on the destination' },
      { kind: 'extra', name: 'c_1', detail: 'index c_1 {"c":1} exists only on the destination' },
    ]);
  });

  it('recognises a listed relaxation (unique dropped, TTL raised) and nothing more', () => {
    const ttl = { v: 2, key: { at: 1 }, name: 'ttl', expireAfterSeconds: 60 };
    const relaxedTtl = { ...ttl, expireAfterSeconds: 2147483647 };
    const { unique: _unique, ...nonUnique } = ab;
    expect(compareIndexes([ab, ttl], [nonUnique, relaxedTtl], new Set(['ab', 'ttl'])).map((d) => d.kind)).toEqual(['relaxed', 'relaxed']);
    // Listed, but also changed in another way: a real difference.
    expect(compareIndexes([ab], [{ ...nonUnique, sparse: true }], new Set(['ab'])).map((d) => d.kind)).toEqual(['changed']);
    // Not listed: a real difference.
    expect(compareIndexes([ttl], [relaxedTtl], new Set()).map((d) => d.kind)).toEqual(['changed']);
  });
});

describe('collection option comparison', () => {
  const identity = (v: string): string => v;

  it('maps a view\'s viewOn through renames before comparing', () => {
    const view = { name: 'v', type: 'view', options: { viewOn: 'orders', pipeline: [{ $match: { a: 1 } }] } };
    const renamed = { ...view, options: { ...view.options, viewOn: 'orders_v2' } };
    expect(compareOptions(view, renamed, (c) => (c === 'orders' ? 'orders_v2' : c))).toEqual([]);
    expect(compareOptions(view, renamed, identity)).toEqual([{ option: 'viewOn', source: '"orders"', destination: '"orders_v2"' }]);
  });

  it('names each differing option, the type included, and takes explicit defaults as equal to absent ones', () => {
    const source = { name: 'c', type: 'collection', options: { validator: { a: { $exists: true } }, capped: true, size: 4096 } };
    expect(compareOptions(source, { ...source, options: { ...source.options, validationLevel: 'strict', validationAction: 'error' } }, identity)).toEqual([]);
    expect(compareOptions(source, { name: 'c', type: 'timeseries', options: { capped: true, size: 8192, validator: { a: { $exists: true } } } }, identity)).toEqual([
      { option: 'type', source: 'collection', destination: 'timeseries' },
      { option: 'size', source: '4096', destination: '8192' },
    ]);
    expect(compareOptions(source, { ...source, options: { capped: true, size: 4096 } }, identity)).toEqual([
      { option: 'validator', source: '{"a":{"$exists":true}}', destination: '(absent)' },
    ]);
  });
});
