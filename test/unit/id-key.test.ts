import { describe, expect, it } from 'vitest';
import { Binary, BSONSymbol, Decimal128, Double, Int32, Long, ObjectId } from 'mongodb';
import { sameDocumentKey } from '../../src/engine/apply/id-key.js';

/** The key that keeps operations on one document in stream order: equal whenever the server may see one document. */
describe('sameDocumentKey', () => {
  it('is equal for numbers of any type with the same value, at the top and inside documents', () => {
    const keys = [1, new Int32(1), new Double(1), Long.fromNumber(1), Decimal128.fromString('1')].map(sameDocumentKey);
    expect(new Set(keys).size).toBe(1);
    expect(sameDocumentKey({ a: new Int32(2) })).toBe(sameDocumentKey({ a: new Double(2) }));
    expect(sameDocumentKey(1)).not.toBe(sameDocumentKey(2));
  });

  it('tells ObjectIds apart by their bytes, and from the string of their hex', () => {
    const hex = '64b7f0c2a1b2c3d4e5f60718';
    expect(sameDocumentKey(new ObjectId(hex))).toBe(sameDocumentKey(ObjectId.createFromHexString(hex)));
    expect(sameDocumentKey(new ObjectId(hex))).not.toBe(sameDocumentKey(new ObjectId('64b7f0c2a1b2c3d4e5f60719')));
    expect(sameDocumentKey(new ObjectId(hex))).not.toBe(sameDocumentKey(hex));
    expect(sameDocumentKey({ o: new ObjectId(hex) })).toBe(sameDocumentKey({ o: new ObjectId(hex) }));
  });

  it('takes a symbol for its string, and tells binaries and types apart', () => {
    expect(sameDocumentKey(new BSONSymbol('x'))).toBe(sameDocumentKey('x'));
    expect(sameDocumentKey(new Binary(Buffer.from('ab')))).toBe(sameDocumentKey(new Binary(Buffer.from('ab'))));
    expect(sameDocumentKey(new Binary(Buffer.from('ab')))).not.toBe(sameDocumentKey(new Binary(Buffer.from('ac'))));
    expect(sameDocumentKey('1')).not.toBe(sameDocumentKey(1));
    expect(sameDocumentKey(true)).not.toBe(sameDocumentKey('true'));
  });
});
