/**
 * Just enough of a BSON reader to find the `_id` element of a raw document without decoding the rest.
 * Verification compares documents as the bytes the server sent; decoding them into JS values would fold
 * int32/double/Int64 together (the type fidelity trap), so only the `_id` is ever decoded, and then with
 * every promotion turned off so that re-encoding it for a query gives back the same BSON type.
 */
import { BSON } from 'mongodb';

export interface RawId {
  /** The element's type byte followed by its value bytes (no name): equal bytes mean the same _id, type included. */
  key: Buffer;
  /** The decoded value with its BSON type kept (Int32, Double, Long, ...), fit to be sent back in a query. */
  value: unknown;
}

/** Byte length of the value of an element of the given type starting at `at`. */
function valueLength(doc: Buffer, type: number, at: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return 4 + doc.readInt32LE(at);
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope (its int32 counts itself)
      return doc.readInt32LE(at);
    case 0x05: // binary: int32 length, subtype byte, bytes
      return 4 + 1 + doc.readInt32LE(at);
    case 0x06: // undefined
    case 0x0a: // null
    case 0xff: // MinKey
    case 0x7f: // MaxKey
      return 0;
    case 0x07: // ObjectId
      return 12;
    case 0x08: // boolean
      return 1;
    case 0x0b: { // regular expression: two cstrings
      const first = doc.indexOf(0, at);
      return doc.indexOf(0, first + 1) + 1 - at;
    }
    case 0x0c: // DBPointer: string, then a 12-byte ObjectId
      return 4 + doc.readInt32LE(at) + 12;
    case 0x10: // int32
      return 4;
    case 0x13: // decimal128
      return 16;
    default:
      throw new Error(`unknown BSON element type 0x${type.toString(16)} at byte ${at - 1}`);
  }
}

const ID_NAME = Buffer.from('_id\0', 'latin1');

export interface RawElement {
  /** The element's name bytes (without the terminating 0x00). */
  name: Buffer;
  /** The whole element: type byte, name, 0x00, value. */
  bytes: Buffer;
  type: number;
  /** The value bytes alone. */
  value: Buffer;
}

/** The top-level elements of a raw BSON document, in stored order (views into `doc`, nothing copied). */
export function* rawElements(doc: Buffer): Generator<RawElement> {
  const end = doc.readInt32LE(0) - 1; // the trailing 0x00
  let at = 4;
  while (at < end) {
    const type = doc[at]!;
    const nameEnd = doc.indexOf(0, at + 1);
    const valueAt = nameEnd + 1;
    const next = valueAt + valueLength(doc, type, valueAt);
    yield { name: doc.subarray(at + 1, nameEnd), bytes: doc.subarray(at, next), type, value: doc.subarray(valueAt, next) };
    at = next;
  }
}

/** The `_id` element's bytes (type + value) of a raw BSON document, or undefined when it has none. */
export function rawIdKey(doc: Buffer): Buffer | undefined {
  // The server writes _id first, so this normally stops at the first element.
  for (const element of rawElements(doc)) {
    if (element.name.length === 3 && element.name.equals(ID_NAME.subarray(0, 3))) {
      return Buffer.concat([Buffer.of(element.type), element.value]);
    }
  }
  return undefined;
}

/**
 * The top-level elements of a document in name order, concatenated: the same bytes whatever order the fields
 * were stored in, every type and value kept. For documents the server re-assembles (time-series measurements
 * unpacked from buckets), whose field order is not the order they were written in.
 */
export function fieldOrderFreeBytes(doc: Buffer): Buffer {
  const elements = [...rawElements(doc)].sort((a, b) => Buffer.compare(a.name, b.name));
  return Buffer.concat(elements.map((e) => e.bytes));
}

const DECODE_EXACT: BSON.DeserializeOptions = {
  promoteValues: false,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true,
};

/** Decodes an `_id` key (see rawIdKey) into a value that re-encodes to exactly the same BSON. */
export function decodeIdKey(key: Buffer): unknown {
  // Wrap the element into a one-field document { _id: <value> } and let the BSON library decode that.
  const size = 4 + 1 + ID_NAME.length + (key.length - 1) + 1;
  const doc = Buffer.alloc(size);
  doc.writeInt32LE(size, 0);
  doc[4] = key[0]!;
  ID_NAME.copy(doc, 5);
  key.copy(doc, 5 + ID_NAME.length, 1);
  doc[size - 1] = 0;
  return BSON.deserialize(doc, DECODE_EXACT)._id;
}

/** Both the bytes and the decoded value of a raw document's `_id`. */
export function rawId(doc: Buffer): RawId | undefined {
  const key = rawIdKey(doc);
  return key ? { key, value: decodeIdKey(key) } : undefined;
}

/** A short, type-revealing text for an `_id`, in the mongo shell's notation (reports name mismatches by it). */
export function formatId(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return `ISODate("${value.toISOString()}")`;
  // By _bsontype, not instanceof: Timestamp extends Long, and a second copy of the bson package would fail instanceof.
  const bsonType = typeof value === 'object' ? (value as { _bsontype?: unknown })._bsontype : undefined;
  switch (bsonType) {
    case 'Int32':
      return String((value as BSON.Int32).value);
    case 'Double': {
      const n = (value as BSON.Double).value;
      return Number.isInteger(n) ? `${n}.0` : String(n);
    }
    case 'Long':
      return `NumberLong("${(value as BSON.Long).toString()}")`;
    case 'Decimal128':
      return `NumberDecimal("${(value as BSON.Decimal128).toString()}")`;
    case 'ObjectId':
      return `ObjectId("${(value as BSON.ObjectId).toHexString()}")`;
    default:
      break;
  }
  return BSON.EJSON.stringify(value, { relaxed: false });
}
