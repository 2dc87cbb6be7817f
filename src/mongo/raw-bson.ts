/**
 * Just enough of a BSON reader and writer to move documents as the bytes the server sent. Decoding them into
 * JS values would fold int32/double/Int64 together (the type fidelity trap), reorder integer-like field names
 * and drop values JS cannot hold; so verification and the change path read only the elements they route by,
 * and build the commands they send around the untouched bytes.
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
const ID = ID_NAME.subarray(0, 3);

export interface RawElement {
  /** The element's name bytes (without the terminating 0x00). */
  name: Buffer;
  /** The whole element: type byte, name, 0x00, value. */
  bytes: Buffer;
  type: number;
  /** The value bytes alone. */
  value: Buffer;
}

/**
 * A walk over the top-level elements of a raw BSON document that allocates nothing per element: `next()` moves
 * to the following one and the fields say where its parts are in `doc`. The one element walker; the hot paths
 * (a change event per event) use it directly, the rest through rawElements.
 */
export class ElementCursor {
  type = 0;
  nameAt = 0;
  nameEnd = 0;
  valueAt = 0;
  valueEnd: number;
  private readonly end: number;

  /** Over the document at `start` of `doc` (an embedded one walked in place, with no view made of it). */
  constructor(readonly doc: Buffer, start = 0) {
    this.end = start + doc.readInt32LE(start) - 1; // the trailing 0x00
    this.valueEnd = start + 4;
  }

  next(): boolean {
    const at = this.valueEnd;
    if (at >= this.end) return false;
    this.type = this.doc[at]!;
    this.nameAt = at + 1;
    this.nameEnd = this.doc.indexOf(0, this.nameAt);
    this.valueAt = this.nameEnd + 1;
    this.valueEnd = this.valueAt + valueLength(this.doc, this.type, this.valueAt);
    return true;
  }

  /** True when the current element's name is `name` (ASCII), compared on the bytes. */
  nameIs(name: Buffer): boolean {
    const length = this.nameEnd - this.nameAt;
    if (name.length !== length) return false;
    for (let i = 0; i < length; i++) if (this.doc[this.nameAt + i] !== name[i]) return false;
    return true;
  }
}

/** The top-level elements of a raw BSON document, in stored order (views into `doc`, nothing copied). */
export function* rawElements(doc: Buffer): Generator<RawElement> {
  for (const c = new ElementCursor(doc); c.next(); ) {
    yield { name: doc.subarray(c.nameAt, c.nameEnd), bytes: doc.subarray(c.nameAt - 1, c.valueEnd), type: c.type, value: doc.subarray(c.valueAt, c.valueEnd) };
  }
}

/** The `_id` element's bytes (type + value) of a raw BSON document, or undefined when it has none. */
export function rawIdKey(doc: Buffer): Buffer | undefined {
  // The server writes _id first, so this normally stops at the first element (called per change event).
  for (const c = new ElementCursor(doc); c.next(); ) {
    if (!c.nameIs(ID)) continue;
    const key = Buffer.allocUnsafe(1 + c.valueEnd - c.valueAt);
    key[0] = c.type;
    doc.copy(key, 1, c.valueAt, c.valueEnd);
    return key;
  }
  return undefined;
}

/** The `_id` element's type byte, or undefined when the document has none (nothing copied). */
export function rawIdType(doc: Buffer): number | undefined {
  for (const c = new ElementCursor(doc); c.next(); ) if (c.nameIs(ID)) return c.type;
  return undefined;
}

/** Whether a document key holds the `_id` alone (an unsharded collection's documentKey), compared on the bytes. */
export function holdsIdAlone(key: Buffer): boolean {
  const c = new ElementCursor(key);
  return c.next() && c.nameIs(ID) && !c.next();
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

/**
 * Decodes an `_id` key (see rawIdKey) into a value that re-encodes to exactly the same BSON, so that it can go back
 * into a query (a range's bound, an `$in`): an embedded document as a Map in stored field order (see
 * orderedDocument), since a JS object puts integer-like field names first and the server orders documents by
 * their fields as stored.
 */
export function decodeIdKey(key: Buffer): unknown {
  if (key[0] === 0x03) return orderedDocument(key.subarray(1));
  // Wrapped into a one-field document { _id: <value> } for the BSON library to decode.
  return BSON.deserialize(idDocumentOf(key), DECODE_EXACT)._id;
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
  if (value instanceof Map) return orderedExtendedJson(value);
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

/** Canonical Extended JSON with an ordered document's fields as stored (EJSON.stringify would reorder integer-like names). */
function orderedExtendedJson(value: unknown): string {
  if (value instanceof Map) return `{${[...(value as Map<string, unknown>)].map(([k, v]) => `${JSON.stringify(k)}:${orderedExtendedJson(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(orderedExtendedJson).join(',')}]`;
  return BSON.EJSON.stringify(value, { relaxed: false });
}

/** Whether a top-level field name starts with '$' (a replacement document may not have one). */
export function hasDollarField(doc: Buffer): boolean {
  // Asked of every document an insert event carries: the cursor makes no view per field.
  for (const c = new ElementCursor(doc); c.next(); ) if (doc[c.nameAt] === 0x24) return true;
  return false;
}

/** A document made of the given whole elements (type, name, value), in that order. */
export function rawDocument(elements: Buffer[]): Buffer {
  const size = 4 + elements.reduce((total, e) => total + e.length, 0) + 1;
  const doc = Buffer.allocUnsafe(size);
  doc.writeInt32LE(size, 0);
  let at = 4;
  for (const element of elements) at += element.copy(doc, at);
  doc[at] = 0;
  return doc;
}

/** One element: its type byte, its name, and its value bytes as they are. */
export function rawElement(type: number, name: string, value: Buffer): Buffer {
  // One allocation: statements are built of many small elements, one change event after another.
  const nameLength = Buffer.byteLength(name, 'utf8');
  const element = Buffer.allocUnsafe(1 + nameLength + 1 + value.length);
  element[0] = type;
  element.write(name, 1, 'utf8');
  element[1 + nameLength] = 0;
  value.copy(element, 2 + nameLength);
  return element;
}

/** An embedded-document element whose value is an already encoded document. */
export function embedded(name: string, doc: Buffer): Buffer {
  return rawElement(0x03, name, doc);
}

/** An array element of already encoded documents. */
export function embeddedArray(name: string, docs: Buffer[]): Buffer {
  return rawElement(0x04, name, rawDocument(docs.map((doc, i) => embedded(String(i), doc))));
}

/** Elements for plain values, encoded by the BSON library (for the parts of a command that are not user data). */
export function encodedElements(values: BSON.Document): Buffer[] {
  return [...rawElements(Buffer.from(BSON.serialize(values)))].map((e) => Buffer.from(e.bytes));
}

/** Decodes one element's value (wrapped as { v: value }), with exact types unless other options are given. */
export function decodeElement(element: RawElement, options: BSON.DeserializeOptions = DECODE_EXACT): unknown {
  return BSON.deserialize(rawDocument([rawElement(element.type, 'v', element.value)]), options).v;
}

/**
 * A raw document as a Map in stored field order (embedded documents as Maps too): the BSON library encodes a
 * Map in insertion order, so a filter built from it matches the exact document even when its field names
 * look like integers, which a JS object would reorder.
 */
export function orderedDocument(doc: Buffer): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const element of rawElements(doc)) {
    const name = element.name.toString('utf8');
    if (element.type === 0x03) out.set(name, orderedDocument(element.value));
    else if (element.type === 0x04) out.set(name, [...orderedDocument(element.value).values()]);
    else out.set(name, decodeElement(element));
  }
  return out;
}

/** The bytes of a Buffer, or of a Binary the driver read back (its buffer may be longer than its data). */
export function bytesOf(value: Buffer | BSON.Binary): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer.buffer, value.buffer.byteOffset, value.position);
}

/** `{_id: <value>}` as raw BSON, from an `_id` element's bytes as rawIdKey returns them (type byte + value). */
export function idDocumentOf(key: Buffer): Buffer {
  const size = 4 + 1 + ID_NAME.length + (key.length - 1) + 1;
  const doc = Buffer.alloc(size);
  doc.writeInt32LE(size, 0);
  doc[4] = key[0]!;
  ID_NAME.copy(doc, 5);
  key.copy(doc, 5 + ID_NAME.length, 1);
  doc[size - 1] = 0;
  return doc;
}
