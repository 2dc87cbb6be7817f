import { BSON, Int32, ObjectId, Timestamp, type Document } from 'mongodb';
import { ElementCursor, holdsIdAlone, rawDocument, rawElements, rawId } from '../../mongo/raw-bson.js';
import { EXACT_TYPES } from '../copy/raw-insert.js';
import { decodeOrdered } from '../../mongo/ordered-decode.js';

export const DATA_OPERATIONS: ReadonlySet<string> = new Set(['insert', 'update', 'replace', 'delete']);

/**
 * One change event, decoded once where it is read. Only what routing needs is decoded (operation, namespace,
 * times, collection UUID, the document key's _id); the documents stay the source's bytes, so nothing a JS
 * object would change (integer-like field order, undefined, DBPointer, duplicate names) is lost on the way.
 */
export interface ChangeEvent {
  /** The event's resume token. */
  token: Document;
  type: string;
  clusterTime: Timestamp;
  wallTime?: Date;
  ns: { db: string; coll?: string };
  /** A rename's destination namespace. */
  to?: { db: string; coll: string };
  /** The collection's UUID (hex), present on data and DDL events of 6.0+ streams with showExpandedEvents. */
  uuid?: string;
  /** The raw documentKey ({_id: ...}): the exact filter for the document. */
  key?: Buffer;
  /** The documentKey's _id, decoded with exact types (for grouping by document). */
  id?: unknown;
  /** sameDocumentKey of `id`, made when first asked for (apply/id-key.ts eventDocumentKey). */
  idKey?: string;
  /** The raw full document; null when an update's lookup found none. */
  fullDocument?: Buffer | null;
  /** DDL details (operationDescription). */
  description: Document;
  /** The document was too large to keep with the event, or is an update's: look it up unless the delta applies. */
  refetch?: boolean;
  /** An update's own delta, the oplog's (`rawUpdateDescription`: see apply/update-diff.ts). */
  delta?: Buffer;
  /** The event's raw bytes as stored in the buffer (fragments re-assembled). */
  raw: Buffer;
  /** Its place in the capture buffer, when it was replayed from there. */
  seq?: number;
}

/**
 * Decodes a raw change event (or the re-assembled elements of a split one) in one pass over its top-level
 * elements, reading the routing fields straight from the bytes: this runs once per event, and at a batch job's
 * rate the generic BSON decoder of the whole head was the largest cost of the tail's own CPU. The resume token
 * is decoded only when asked for (the stream needs the last one of a batch).
 */
export function decodeChangeEvent(raw: Buffer, refetch = false): ChangeEvent {
  let type = '';
  let clusterTime: Timestamp | undefined;
  let wallTime: Date | undefined;
  let ns: ChangeEvent['ns'] | undefined;
  let to: { db: string; coll?: string } | undefined;
  let uuid: string | undefined;
  let key: Buffer | undefined;
  let fullType = 0;
  let full: Buffer | undefined;
  let description: Document | undefined;
  let delta: Buffer | undefined;
  let token: Buffer | undefined;
  // Names matched on their bytes: no string per element.
  for (const c = new ElementCursor(raw); c.next(); ) {
    const { type: elementType, valueAt, valueEnd } = c;
    switch (fieldOf(c)) {
      case Field.Token:
        token = raw.subarray(valueAt, valueEnd);
        break;
      case Field.OperationType:
        type = stringAt(raw, valueAt);
        break;
      case Field.ClusterTime:
        clusterTime = new Timestamp({ i: raw.readUInt32LE(valueAt), t: raw.readUInt32LE(valueAt + 4) });
        break;
      case Field.WallTime:
        if (elementType === 0x09) wallTime = new Date(Number(raw.readBigInt64LE(valueAt)));
        break;
      case Field.Ns:
        ns = namespaceAt(raw.subarray(valueAt, valueEnd));
        break;
      case Field.To:
        to = namespaceAt(raw.subarray(valueAt, valueEnd));
        break;
      case Field.CollectionUUID:
        // Binary: int32 length, subtype byte, the bytes.
        uuid = raw.toString('hex', valueAt + 5, valueAt + 5 + raw.readInt32LE(valueAt));
        break;
      case Field.DocumentKey:
        key = raw.subarray(valueAt, valueEnd);
        break;
      case Field.FullDocument:
        fullType = elementType;
        full = raw.subarray(valueAt, valueEnd);
        break;
      case Field.OperationDescription:
        // In stored field order: index keys and view pipelines mean their order (see ordered-decode.ts).
        description = decodeOrdered(raw.subarray(valueAt, valueEnd), EXACT_TYPES);
        break;
      case Field.RawUpdateDescription:
        if (elementType === 0x03) delta = raw.subarray(valueAt, valueEnd);
        break;
    }
  }
  if (!clusterTime || !ns || !token) throw new Error(`a change event without ${!token ? '_id' : !clusterTime ? 'clusterTime' : 'ns'}`);
  const event: ChangeEvent = new DecodedEvent(token, type, clusterTime, ns, description ?? {}, raw);
  if (wallTime) event.wallTime = wallTime;
  if (to?.coll !== undefined) event.to = { db: to.db, coll: to.coll };
  if (uuid) event.uuid = uuid;
  if (key) {
    event.key = key;
    event.id = idOfKey(key);
  }
  // Views into the event's bytes, not copies: an event near 16 MB is held once.
  if (full) event.fullDocument = fullType === 0x03 ? full : null;
  if (delta) event.delta = delta;
  // An update carries no document (the stream does not look it up): the applier reads the current one.
  if (refetch || (event.type === 'update' && !full)) event.refetch = true;
  return event;
}

/** A decoded event whose resume token is decoded only when read (the stream needs the last one of a batch). */
class DecodedEvent implements ChangeEvent {
  private decodedToken: Document | undefined;
  wallTime?: Date;
  to?: { db: string; coll: string };
  uuid?: string;
  key?: Buffer;
  id?: unknown;
  idKey?: string;
  fullDocument?: Buffer | null;
  refetch?: boolean;
  delta?: Buffer;
  seq?: number;

  constructor(
    private readonly tokenBytes: Buffer,
    readonly type: string,
    readonly clusterTime: Timestamp,
    readonly ns: { db: string; coll?: string },
    readonly description: Document,
    readonly raw: Buffer,
  ) {}

  get token(): Document {
    return (this.decodedToken ??= BSON.deserialize(this.tokenBytes, EXACT_TYPES));
  }
}

/** The top-level fields the decoder reads. */
const enum Field {
  Other,
  Token,
  OperationType,
  ClusterTime,
  WallTime,
  Ns,
  To,
  CollectionUUID,
  DocumentKey,
  FullDocument,
  OperationDescription,
  RawUpdateDescription,
  SplitEvent,
}

const FIELD_NAMES: [Field, Buffer][] = (
  [
    [Field.Token, '_id'],
    [Field.OperationType, 'operationType'],
    [Field.ClusterTime, 'clusterTime'],
    [Field.WallTime, 'wallTime'],
    [Field.Ns, 'ns'],
    [Field.To, 'to'],
    [Field.CollectionUUID, 'collectionUUID'],
    [Field.DocumentKey, 'documentKey'],
    [Field.FullDocument, 'fullDocument'],
    [Field.OperationDescription, 'operationDescription'],
    [Field.RawUpdateDescription, 'rawUpdateDescription'],
    [Field.SplitEvent, 'splitEvent'],
  ] as const
).map(([field, name]) => [field, Buffer.from(name, 'latin1')]);

/** Which field the cursor's element is: by first byte, then byte by byte. */
function fieldOf(c: ElementCursor): Field {
  const first = c.doc[c.nameAt];
  for (const [field, name] of FIELD_NAMES) if (name[0] === first && c.nameIs(name)) return field;
  return Field.Other;
}

/** The `_id` of a documentKey, decoded with its exact type: the key itself is `{_id}` on an unsharded collection. */
function idOfKey(key: Buffer): unknown {
  if (!holdsIdAlone(key)) return rawId(key)?.value;
  // The commonest keys, {_id: ObjectId} and {_id: int32}, read from their bytes (the value starts after the length,
  // the type byte and "_id\0"), as the BSON library decodes them with exact types; anything else through it.
  const type = key[4];
  if (type === 0x07 && key.length === 22) return new ObjectId(key.subarray(9, 21));
  if (type === 0x10 && key.length === 14) return new Int32(key.readInt32LE(9));
  return BSON.deserialize(key, EXACT_TYPES)._id;
}

/** A BSON string value at `at`: int32 length (with the trailing zero), the UTF-8 bytes, zero. */
function stringAt(doc: Buffer, at: number): string {
  return doc.toString('utf8', at + 4, at + 4 + doc.readInt32LE(at) - 1);
}

/** `{db, coll?}` of a namespace sub-document. */
function namespaceAt(doc: Buffer): { db: string; coll?: string } {
  let db = '';
  let coll: string | undefined;
  for (const c = new ElementCursor(doc); c.next(); ) {
    if (c.type !== 0x02) continue;
    if (c.nameIs(DB)) db = stringAt(doc, c.valueAt);
    else if (c.nameIs(COLL)) coll = stringAt(doc, c.valueAt);
  }
  return coll === undefined ? { db } : { db, coll };
}

const DB = Buffer.from('db');
const COLL = Buffer.from('coll');

/** The same event without its full document, to be looked up when applied (it is too large to store). */
export function withoutFullDocument(raw: Buffer): Buffer {
  return rawDocument([...rawElements(raw)].filter((e) => e.name.toString('utf8') !== 'fullDocument').map((e) => e.bytes));
}

/**
 * Re-assembles an event that `$changeStreamSplitLargeEvent` split into fragments: the fields of all fragments,
 * with the last fragment's resume token (resuming after it continues after the whole event).
 */
export function assembleFragments(fragments: Buffer[]): Buffer {
  const elements: Buffer[] = [];
  let token: Buffer | undefined;
  fragments.forEach((fragment) => {
    for (const element of rawElements(fragment)) {
      const name = element.name.toString('utf8');
      if (name === '_id') token = element.bytes;
      else if (name !== 'splitEvent') elements.push(element.bytes);
    }
  });
  return rawDocument([token!, ...elements]);
}

const SPLIT_EVENT = Buffer.from('splitEvent', 'latin1');

/** The fragment number and count of a split event, or undefined for a whole one. */
export function splitInfo(raw: Buffer): { fragment: number; of: number } | undefined {
  // Asked of every event before it is decoded: the name alone is compared, not every field's.
  for (const c = new ElementCursor(raw); c.next(); ) {
    if (!c.nameIs(SPLIT_EVENT)) continue;
    const info = BSON.deserialize(raw.subarray(c.valueAt, c.valueEnd)) as { fragment: number; of: number };
    return { fragment: Number(info.fragment), of: Number(info.of) };
  }
  return undefined;
}
