import { BSON, type Binary, type Document, type Timestamp } from 'mongodb';
import { decodeIdKey, rawDocument, rawElements, type RawElement } from '../../mongo/raw-bson.js';
import { EXACT_TYPES } from '../copy/raw-insert.js';

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
  /** The raw full document; null when an update's lookup found none. */
  fullDocument?: Buffer | null;
  /** DDL details (operationDescription). */
  description: Document;
  /** The document was too large to keep with the event: look it up when applying. */
  refetch?: boolean;
  /** The event's raw bytes as stored in the buffer (fragments re-assembled). */
  raw: Buffer;
  /** Its place in the capture buffer, when it was replayed from there. */
  seq?: number;
}

/** Fields kept as bytes; everything else of an event is small and decoded. */
const RAW_FIELDS = new Set(['fullDocument', 'documentKey', 'updateDescription', 'fullDocumentBeforeChange']);

/** Decodes a raw change event (or the re-assembled elements of a split one). */
export function decodeChangeEvent(raw: Buffer, refetch = false): ChangeEvent {
  const small: Buffer[] = [];
  let key: RawElement | undefined;
  let full: RawElement | undefined;
  for (const element of rawElements(raw)) {
    const name = element.name.toString('utf8');
    if (name === 'documentKey') key = element;
    else if (name === 'fullDocument') full = element;
    if (!RAW_FIELDS.has(name)) small.push(element.bytes);
  }
  const head = BSON.deserialize(rawDocument(small), EXACT_TYPES);
  const event: ChangeEvent = {
    token: head._id as Document,
    type: String(head.operationType),
    clusterTime: head.clusterTime as Timestamp,
    ns: { db: String((head.ns as Document).db), ...((head.ns as Document).coll !== undefined ? { coll: String((head.ns as Document).coll) } : {}) },
    description: (head.operationDescription ?? {}) as Document,
    raw,
  };
  if (head.wallTime instanceof Date) event.wallTime = head.wallTime;
  if (head.to) event.to = { db: String((head.to as Document).db), coll: String((head.to as Document).coll) };
  if (head.collectionUUID) event.uuid = (head.collectionUUID as Binary).toString('hex');
  if (key) {
    event.key = key.value;
    const idElement = [...rawElements(event.key)].find((e) => e.name.toString('utf8') === '_id');
    if (idElement) event.id = decodeIdKey(Buffer.concat([Buffer.of(idElement.type), idElement.value]));
  }
  // Views into the event's bytes, not copies: an event near 16 MB is held once.
  if (full) event.fullDocument = full.type === 0x03 ? full.value : null;
  // An update carries no document (the stream does not look it up): the applier reads the current one.
  if (refetch || (event.type === 'update' && !full)) event.refetch = true;
  return event;
}

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

/** The fragment number and count of a split event, or undefined for a whole one. */
export function splitInfo(raw: Buffer): { fragment: number; of: number } | undefined {
  for (const element of rawElements(raw)) {
    if (element.name.toString('utf8') !== 'splitEvent') continue;
    const split = BSON.deserialize(element.value) as { fragment: number; of: number };
    return { fragment: Number(split.fragment), of: Number(split.of) };
  }
  return undefined;
}
