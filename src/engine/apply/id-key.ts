import { BSON, Decimal128, Double, Int32, Long } from 'mongodb';

/**
 * A string that is equal for two _id values exactly when MongoDB's _id index treats them as the same key.
 * Numbers compare by value across types (1, 1.0, NumberLong(1) are one key); everything else by its bytes.
 */
export function idKey(id: unknown): string {
  if (typeof id === 'number') return `n:${id}`;
  if (id instanceof Int32 || id instanceof Double) return `n:${id.valueOf()}`;
  if (id instanceof Long) return `n:${id.toString()}`;
  if (id instanceof Decimal128) {
    const asNumber = Number(id.toString());
    return Number.isSafeInteger(asNumber) ? `n:${asNumber}` : `d:${id.toString()}`;
  }
  return `b:${Buffer.from(BSON.serialize({ v: id })).toString('base64')}`;
}
