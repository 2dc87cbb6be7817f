import { BSON } from 'mongodb';

/**
 * A key that is equal for two _id values whenever MongoDB's _id index could treat them as the same document:
 * numbers compare by value across types (1, 1.0, NumberLong(1), and inside embedded documents too), symbols
 * as strings. It may also be equal for two values the server tells apart (a Long beyond 2^53 and the nearest
 * double, integer-like field names that a JS object reorders): callers must only ever use it to keep
 * operations in order, never to merge two documents into one. The exact bytes decide that.
 */
export function sameDocumentKey(id: unknown): string {
  return canonical(id);
}

/**
 * sameDocumentKey of an event's `_id`, made once and kept on the event: planning (twice a batch), grouping, the
 * write order and the read horizon all ask for it (a WeakMap entry per value cost more than the key, bench/README.md).
 */
export function eventDocumentKey(event: { id?: unknown; idKey?: string }): string {
  return (event.idKey ??= canonical(event.id));
}

function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'z';
  if (typeof value === 'number') return `n:${String(value)}`;
  if (typeof value === 'string') return `s:${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `b:${value}`;
  if (value instanceof Date) return `d:${value.getTime()}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const bsonType = (value as { _bsontype?: string })._bsontype;
  switch (bsonType) {
    case 'Int32':
    case 'Double':
      return `n:${String((value as BSON.Int32 | BSON.Double).value)}`;
    case 'Long':
    case 'Decimal128':
      // Number() folds both onto the double nearest their value: equal values always meet.
      return `n:${String(Number((value as BSON.Long | BSON.Decimal128).toString()))}`;
    case 'BSONSymbol':
      return `s:${JSON.stringify((value as BSON.BSONSymbol).valueOf())}`;
    case 'ObjectId':
      // The most common _id, and equal only byte for byte: its hex, rather than an Extended JSON round (which
      // was the tail's largest cost in planning a batch).
      return `ObjectId:${(value as BSON.ObjectId).toHexString()}`;
    case undefined:
      break;
    default:
      return `${bsonType}:${BSON.EJSON.stringify(value as BSON.Document, { relaxed: false })}`;
  }
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
