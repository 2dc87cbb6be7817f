/**
 * The server's order of `_id` values, for the few BSON types where it can be decided from the bytes with
 * certainty: ObjectId, date, the numbers int32 / int64 / double (across each other), and strings compared by
 * their bytes (a collection without a collation). Everything else is "not known to be after": callers treat
 * that as the safe answer.
 */
import { BSON } from 'mongodb';
import { rawIdKey } from '../../../mongo/raw-bson.js';

const DOUBLE = 0x01;
const STRING = 0x02;
const OBJECT_ID = 0x07;
const DATE = 0x09;
const INT32 = 0x10;
const INT64 = 0x12;

/** An `_id` value (as read with its BSON type kept) as the key rawIdKey gives: type byte + value bytes. */
export function idKeyOf(value: unknown): Buffer {
  return rawIdKey(Buffer.from(BSON.serialize({ _id: value })))!;
}

/** True only when `a` sorts strictly after `b` in the server's `_id` order and that is certain here. */
export function isAfter(a: Buffer, b: Buffer, options: { binaryStrings: boolean }): boolean {
  const [ta, tb] = [a[0], b[0]];
  if (ta === OBJECT_ID && tb === OBJECT_ID) return Buffer.compare(a.subarray(1), b.subarray(1)) > 0;
  if (ta === DATE && tb === DATE) return a.readBigInt64LE(1) > b.readBigInt64LE(1);
  if (ta === STRING && tb === STRING) return options.binaryStrings && Buffer.compare(stringBytes(a), stringBytes(b)) > 0;
  const na = numberOf(a);
  const nb = numberOf(b);
  return na !== undefined && nb !== undefined && compareNumbers(na, nb) > 0;
}

/** A string key's UTF-8 bytes without its length prefix and trailing zero. */
function stringBytes(key: Buffer): Buffer {
  return key.subarray(5, 5 + key.readInt32LE(1) - 1);
}

function numberOf(key: Buffer): number | bigint | undefined {
  switch (key[0]) {
    case DOUBLE:
      return key.readDoubleLE(1);
    case INT32:
      return BigInt(key.readInt32LE(1));
    case INT64:
      return key.readBigInt64LE(1);
    default:
      return undefined; // decimal128 and the rest: not decided here
  }
}

/** The server's numeric order: NaN below every number and equal to itself, integers exact beyond 2^53. */
export function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && Number.isNaN(a)) return typeof b === 'number' && Number.isNaN(b) ? 0 : -1;
  if (typeof b === 'number' && Number.isNaN(b)) return 1;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  // One double, one integer.
  const flip = typeof a === 'bigint';
  const d = (flip ? b : a) as number;
  const n = (flip ? a : b) as bigint;
  const sign = compareDoubleWithInteger(d, n);
  return flip ? -sign : sign;
}

function compareDoubleWithInteger(d: number, n: bigint): number {
  if (d === Infinity) return 1;
  if (d === -Infinity) return -1;
  const floor = BigInt(Math.floor(d));
  if (floor < n) return -1; // d < floor + 1 <= n
  if (floor > n) return 1;
  return Number.isInteger(d) ? 0 : 1; // floor == n: equal, or a fraction above it
}
