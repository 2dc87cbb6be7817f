import { describe, expect, it } from 'vitest';
import { BSON, Double, Int32 } from 'mongodb';
import { decodeOrdered, fieldsOf, movesInObject } from '../../src/mongo/ordered-decode.js';
import { canonical } from '../../src/mongo/canonical.js';

const ordered = (entries: [string, unknown][]): Map<string, unknown> => new Map(entries);

describe('decodeOrdered', () => {
  it('keeps a document with integer-like names in stored order, as a Map that encodes back to the same bytes', () => {
    const spec = { name: 'x_2024', key: ordered([['x', new Int32(1)], ['2024', new Int32(-1)]]), v: 2 };
    const bytes = Buffer.from(BSON.serialize(spec));
    const decoded = decodeOrdered(bytes);
    expect(decoded.key).toBeInstanceOf(Map);
    expect(fieldsOf(decoded.key).map(([name]) => name)).toEqual(['x', '2024']);
    expect(Buffer.from(BSON.serialize(decoded)).equals(bytes)).toBe(true);
    // What a JS object makes of it: the integer-like name first, another index.
    expect(Object.keys(BSON.deserialize(bytes).key as object)).toEqual(['2024', 'x']);
  });

  it('leaves documents without such names plain objects, and finds Maps inside arrays and deeper documents', () => {
    const options = { viewOn: 'items', pipeline: [{ $sort: ordered([['name', 1], ['7', -1]]) }, { $match: { a: { b: ordered([['c', 1], ['0', 2]]) } } }] };
    const bytes = Buffer.from(BSON.serialize(options));
    const decoded = decodeOrdered(bytes);
    const [sort, match] = decoded.pipeline as { $sort?: unknown; $match?: { a: { b: unknown } } }[];
    expect(sort!.$sort).toBeInstanceOf(Map);
    expect(match!.$match!.a).not.toBeInstanceOf(Map);
    expect(match!.$match!.a.b).toBeInstanceOf(Map);
    expect(Buffer.from(BSON.serialize(decoded)).equals(bytes)).toBe(true);
  });

  it('decodes values with the options given (exact types kept on request)', () => {
    const bytes = Buffer.from(BSON.serialize({ key: ordered([['a', new Double(1)], ['1', new Int32(1)]]) }));
    const exact = decodeOrdered(bytes, { promoteValues: false });
    expect([...(exact.key as Map<string, unknown>).values()]).toEqual([new Double(1), new Int32(1)]);
    expect(Buffer.from(BSON.serialize(exact)).equals(bytes)).toBe(true);
    expect([...(decodeOrdered(bytes).key as Map<string, unknown>).values()]).toEqual([1, 1]);
  });

  it('takes as integer-like exactly the names a JS object moves', () => {
    for (const name of ['0', '7', '2024', '4294967294']) expect(movesInObject(name), name).toBe(true);
    for (const name of ['01', '-1', '1.5', '4294967295', 'x', '', ' 1']) expect(movesInObject(name), name).toBe(false);
    for (const name of ['0', '7', '2024', '4294967294', '01', '-1', '4294967295']) {
      const first = Object.keys({ a: 1, [name]: 2 })[0] === name;
      expect(first, name).toBe(movesInObject(name));
    }
  });
});

describe('canonical', () => {
  it('tells two key orders apart when one came decoded as a Map', () => {
    expect(canonical(ordered([['x', 1], ['2024', 1]]))).toBe('{"x":1,"2024":1}');
    expect(canonical(ordered([['x', 1], ['2024', 1]]))).not.toBe(canonical({ x: 1, 2024: 1 }));
  });
});
