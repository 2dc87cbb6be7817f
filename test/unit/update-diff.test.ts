import { describe, expect, it } from 'vitest';
import { Binary, BSON, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, type Document } from 'mongodb';
import { diffStatements } from '../../src/engine/apply/update-diff.js';
import { rawDocument } from '../../src/mongo/raw-bson.js';

/**
 * Deltas that only replace top-level fields in place (what `$set` and `$inc` produce, most of a batch job) take a
 * short path in diffStatements: the `u` section's bytes become the `$set` document as they are. It must give exactly
 * what the general path gives. An empty `d` section beside them sends the same delta down the general path (it
 * removes nothing), which is what each case is compared with, byte for byte. Applying the statements on a real
 * server is covered by the integration fuzzer (test/integration/update-diff.test.ts).
 */
const raw = (doc: Document): Buffer => Buffer.from(BSON.serialize(doc));

const VALUES: [string, unknown][] = [
  ['double -0', new Double(-0)],
  ['double NaN', new Double(NaN)],
  ['int32', new Int32(7)],
  ['int64', Long.fromString('9007199254740993')],
  ['decimal', Decimal128.fromString('1.10')],
  ['string', 'burst-1'],
  ['string that looks like a path', '$_id'],
  ['binary', new Binary(Buffer.from('abc'), 4)],
  ['objectId', new ObjectId('0123456789abcdef01234567')],
  ['bool', true],
  ['date', new Date(0)],
  ['null', null],
  ['timestamp', new Timestamp({ t: 1, i: 2 })],
  ['minKey', new MinKey()],
  ['maxKey', new MaxKey()],
  ['code', new Code('x')],
  ['document', { b: 1, a: { $weird: 2 } }],
  ['array', [1, 'two', { three: 3 }]],
];

/** Top-level scalars a set statement may group (update-diff.ts PLAIN_SCALARS). */
const PLAIN = new Set(['double -0', 'double NaN', 'int32', 'int64', 'decimal', 'string', 'string that looks like a path', 'binary', 'objectId', 'bool', 'date', 'null']);

describe('diffStatements: a delta of top-level fields replaced in place', () => {
  for (const [label, value] of VALUES) {
    it(`${label}: the same statement as the general path, byte for byte`, () => {
      const u = new Map<string, unknown>([['quantity', new Int32(3)], ['v', value]]);
      const fast = diffStatements(raw({ $v: new Int32(2), diff: { u } }));
      const general = diffStatements(raw({ $v: new Int32(2), diff: { u, d: {} } }));
      expect(fast).toHaveLength(1);
      expect(general).toHaveLength(1);
      expect(fast![0]!.update.equals(general![0]!.update)).toBe(true);
      expect(fast![0]!.update.equals(raw({ $set: u }))).toBe(true);
      expect(fast![0]!.fields?.shape()).toEqual(general![0]!.fields?.shape());
      expect(fast![0]!.fields?.valueBytes()).toEqual(general![0]!.fields?.valueBytes());
      expect(fast![0]!.fields !== undefined, 'grouped by set-writes.ts only when every value is a plain scalar').toBe(PLAIN.has(label));
    });
  }

  it('names an update operator cannot take, and the _id, are left to the general path, which refuses them too', () => {
    for (const name of ['a.b', '$x', '_id', '']) {
      const delta = raw({ $v: new Int32(2), diff: { u: new Map([[name, new Int32(1)]]) } });
      expect(diffStatements(delta), JSON.stringify(name)).toBeUndefined();
    }
  });

  it('an empty section says nothing, as the general path does', () => {
    expect(diffStatements(raw({ $v: new Int32(2), diff: { u: {} } }))).toEqual([]);
  });

  it('a delta with anything beside the replaced fields takes the general path', () => {
    const statements = diffStatements(raw({ $v: new Int32(2), diff: { u: { a: new Int32(1) }, i: { b: new Int32(2) } } }));
    expect(statements).toHaveLength(2);
    expect(statements![0]!.update.equals(raw({ $set: { a: new Int32(1) }, $unset: { b: '' } }))).toBe(true);
    expect(statements![1]!.update.equals(raw({ $set: { b: new Int32(2) } }))).toBe(true);
  });
});

describe('PlainFields: a plain statement\'s fields read where they lie in its update', () => {
  it('names, shape, value bytes and each value as an element of another name, types and bytes kept', () => {
    const u = new Map<string, unknown>([['quantity', new Int32(3)], ['prix€', 'x'], ['n', null], ['big', Long.fromString('9007199254740993')]]);
    const [statement] = diffStatements(raw({ $v: new Int32(2), diff: { u } }))!;
    const fields = statement!.fields!;
    expect(fields.length).toBe(4);
    expect([0, 1, 2, 3].map((f) => fields.name(f))).toEqual(['quantity', 'prix€', 'n', 'big']);
    expect(fields.shape()).toBe(['quantity', Buffer.from('prix€', 'utf8').toString('latin1'), 'n', 'big'].join('\0'));
    expect(fields.valueBytes()).toBe(4 + (4 + 2) + 0 + 8);
    const element = (f: number): Buffer => rawDocument([fields.valueElement(f, '7')]);
    expect(element(0).equals(raw({ 7: new Int32(3) }))).toBe(true);
    expect(element(1).equals(raw({ 7: 'x' }))).toBe(true);
    expect(element(2).equals(raw({ 7: null }))).toBe(true);
    expect(element(3).equals(raw({ 7: Long.fromString('9007199254740993') }))).toBe(true);
  });

  it('the general path hands on the same fields for the same statement', () => {
    const u = new Map<string, unknown>([['a', new Double(1.5)], ['b', 'y']]);
    const [fast] = diffStatements(raw({ $v: new Int32(2), diff: { u } }))!;
    const [general] = diffStatements(raw({ $v: new Int32(2), diff: { u, d: {} } }))!;
    for (const f of [0, 1]) expect(general!.fields!.valueElement(f, 'x').equals(fast!.fields!.valueElement(f, 'x'))).toBe(true);
    expect(general!.fields!.name(1)).toBe('b');
  });
});
