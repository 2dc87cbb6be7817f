/**
 * A comparable text for index specs and collection options (decoded values, not documents: these are small
 * metadata where int32 vs double carries no meaning, so numbers compare by value).
 */
import { BSON } from 'mongodb';
import { fieldsOf } from './ordered-decode.js';

/** JSON-like text; object keys keep their order (it is significant in index keys and in query documents). */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (typeof value === 'object') {
    // BSON wrapper values (Long, Decimal128, ObjectId, Binary, ...) carry a _bsontype and a toString of their value.
    const bsonType = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bsonType === 'string') {
      if (bsonType === 'Long' || bsonType === 'Int32' || bsonType === 'Double') return String(Number((value as { toString(): string }).toString()));
      return BSON.EJSON.stringify(value, { relaxed: false });
    }
    if (value instanceof RegExp) return String(value);
    // A plain object, or a Map where decoding kept integer-like names in stored order (see ordered-decode.ts).
    return `{${fieldsOf(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return String(value);
}
