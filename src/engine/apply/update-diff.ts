import { ElementCursor, rawDocument, rawElement, rawElements, type RawElement } from '../../mongo/raw-bson.js';

/**
 * Turns the source's own record of an update (the oplog's `$v: 2` delta, which a change stream hands out as
 * `rawUpdateDescription`) into update statements that take a document from exactly the update's pre-image to
 * exactly its post-image, byte for byte, on the destination. The parsed `updateDescription` cannot: it merges
 * the delta's in-place updates with its appended fields, and a field a pipeline moved to the end (an "insert"
 * of a field that was there) is told as an in-place update.
 *
 * The delta, per document level: `d` fields removed, `u` fields replaced in place, `i` fields appended at the
 * end in that order (removed first where they were), `s<name>` a sub-delta of an embedded document or array.
 * An array's sub-delta has `a: true`, `u<index>` elements replaced (appended past the end), `s<index>`
 * sub-deltas, and `l` the length it is cut to.
 *
 * Whether the destination holds the pre-image is the caller's to know (read-horizon.ts); the statements filter on
 * the `_id` alone (the server's fast path for one document: any other condition in the filter doubled the
 * destination's CPU per update, bench/). Applied again to a later state of the document (a runner killed before the
 * position covering them was saved replays them), a run of deltas ends in the same state: every operation is
 * absolute (a value set, a field removed, a field removed and appended, an array cut to a length), so the last of
 * each decides, and the appended fields are appended again in the same order. A statement that cannot apply (a
 * path through what is now a scalar) is refused, and the caller writes the document from the source.
 */
export interface DiffStatement {
  /** The update document: `{$set, $unset, $push}` as needed. */
  update: Buffer;
  /**
   * When the statement only sets top-level fields in place to plain scalar values (the shape of `$inc` and `$set` on
   * top-level fields, most of a batch job's updates), those fields in order: statements of the same field names
   * can then be written for many documents in one statement (see set-writes.ts).
   */
  fields?: PlainFields;
}

/**
 * A plain statement's fields, read where they lie in its update document (`{$set: {...}}`): their offsets, no view
 * or object per field. A batch job's translated updates are held from the read-ahead to their writes, and a view of
 * each field's name, element and value was most of what translating one allocated (bench/README.md).
 */
export class PlainFields {
  /** Per field: the offsets in `update` of its type byte, its value's start and its value's end. */
  private readonly at: number[] = [];

  constructor(readonly update: Buffer) {
    const operator = new ElementCursor(update);
    operator.next();
    for (const c = new ElementCursor(update, operator.valueAt); c.next(); ) this.at.push(c.nameAt - 1, c.valueAt, c.valueEnd);
  }

  get length(): number {
    return this.at.length / 3;
  }

  name(field: number): string {
    return this.nameText(field, 'utf8');
  }

  /** The field names in order, joined by 0x00 (a name holds none): statements of one shape share a set statement. */
  shape(): string {
    let shape = '';
    for (let f = 0; f < this.length; f++) shape += (f ? '\0' : '') + this.nameText(f, 'latin1');
    return shape;
  }

  /** The name's bytes: after the type byte, before the 0x00 that precedes the value. */
  private nameText(field: number, encoding: 'utf8' | 'latin1'): string {
    return this.update.toString(encoding, this.at[3 * field]! + 1, this.at[3 * field + 1]! - 1);
  }

  /** Bytes of the values alone. */
  valueBytes(): number {
    let bytes = 0;
    for (let f = 0; f < this.length; f++) bytes += this.at[3 * f + 2]! - this.at[3 * f + 1]!;
    return bytes;
  }

  /** The field's value as an element named `name`, its type and value bytes as they are. */
  valueElement(field: number, name: string): Buffer {
    const typeAt = this.at[3 * field]!;
    return rawElement(this.update[typeAt]!, name, this.update.subarray(this.at[3 * field + 1]!, this.at[3 * field + 2]!));
  }
}

/** Above this many bytes of values the whole document is written instead (statements stay under 16 MB). */
const MAX_DIFF_BYTES = 15 * 1024 * 1024;

type Op =
  | { kind: 'set'; path: string; value: RawElement }
  | { kind: 'insert'; path: string; parent: string; value: RawElement }
  | { kind: 'unset'; path: string }
  | { kind: 'truncate'; path: string; depth: number; size: number };

/**
 * The statements for one `rawUpdateDescription`, in the order they must run on the document, or undefined when
 * the delta holds anything this cannot express exactly (a field name with a dot, a leading `$` or none at all,
 * the `_id` moved, an unknown section, a `$v` other than 2): the caller then writes the whole document, as it does
 * for any update.
 */
export function diffStatements(rawUpdateDescription: Buffer): DiffStatement[] | undefined {
  // Read in place with a cursor (no view or string per element): this runs for every update of a batch job.
  let version: number | undefined;
  let diffAt = -1;
  let diffEnd = -1;
  for (const c = new ElementCursor(rawUpdateDescription); c.next(); ) {
    if (c.nameIs(VERSION) && (c.type === 0x10 || c.type === 0x12 || c.type === 0x01)) version = numberAt(rawUpdateDescription, c.type, c.valueAt);
    else if (c.nameIs(DIFF) && c.type === 0x03) {
      diffAt = c.valueAt;
      diffEnd = c.valueEnd;
    }
    else return undefined;
  }
  if (version !== 2 || diffAt < 0) return undefined;
  const inPlace = topLevelSets(rawUpdateDescription, diffAt);
  if (inPlace) return [inPlace];
  const ops: Op[] = [];
  if (!readDocumentDiff(rawUpdateDescription.subarray(diffAt, diffEnd), [], ops)) return undefined;
  let bytes = 0;
  for (const op of ops) if (op.kind === 'set' || op.kind === 'insert') bytes += op.value.value.length + op.path.length;
  if (bytes > MAX_DIFF_BYTES) return undefined;
  return pack(ops);
}

const VERSION = Buffer.from('$v', 'latin1');
const DIFF = Buffer.from('diff', 'latin1');
/** `$set` as an element name, with its terminating 0x00. */
const SET_NAME = Buffer.from('$set\0', 'latin1');
const DOT = 0x2e;
const DOLLAR = 0x24;
const ID_NAME = Buffer.from('_id', 'latin1');

/**
 * The statement of the most common delta, top-level fields replaced in place and nothing else (`$set`, `$inc`):
 * the `u` section's bytes are the `$set` document itself, element for element, as `pack` would build it. Undefined
 * for any other delta (the general path below), for an empty one, or past MAX_DIFF_BYTES. Reads the diff (at
 * `diffAt` of `doc`) in place; the names are checked on their bytes (in UTF-8 a `.` or `$` byte is only ever that
 * character).
 */
function topLevelSets(doc: Buffer, diffAt: number): DiffStatement | undefined {
  const diff = new ElementCursor(doc, diffAt);
  if (!diff.next() || diff.type !== 0x03 || diff.nameEnd - diff.nameAt !== 1 || doc[diff.nameAt] !== 0x75 /* u */) return undefined;
  const sectionAt = diff.valueAt;
  const sectionEnd = diff.valueEnd;
  if (diff.next() || sectionEnd - sectionAt > MAX_DIFF_BYTES) return undefined;
  let plain = true;
  for (const c = new ElementCursor(doc, sectionAt); c.next(); ) {
    if (c.nameEnd === c.nameAt || doc[c.nameAt] === DOLLAR || c.nameIs(ID_NAME)) return undefined;
    for (let i = c.nameAt; i < c.nameEnd; i++) if (doc[i] === DOT) return undefined;
    plain &&= PLAIN_SCALARS.has(c.type);
  }
  if (sectionEnd - sectionAt <= 5) return undefined; // no field: an empty document is its length and its 0x00
  // `{$set: <the u section>}` in one allocation.
  const size = 4 + 1 + SET_NAME.length + (sectionEnd - sectionAt) + 1;
  const update = Buffer.allocUnsafe(size);
  update.writeInt32LE(size, 0);
  update[4] = 0x03;
  SET_NAME.copy(update, 5);
  doc.copy(update, 5 + SET_NAME.length, sectionAt, sectionEnd);
  update[size - 1] = 0;
  return plain ? { update, fields: new PlainFields(update) } : { update };
}

function numberAt(doc: Buffer, type: number, at: number): number {
  if (type === 0x10) return doc.readInt32LE(at);
  if (type === 0x12) return Number(doc.readBigInt64LE(at));
  return doc.readDoubleLE(at);
}

function readNumber(e: RawElement): number {
  return numberAt(e.value, e.type, 0);
}

/** A field name an update operator's dotted path can name: not empty, no dot, no leading `$`. */
function expressible(name: string): boolean {
  return name.length > 0 && !name.includes('.') && name[0] !== '$';
}

function join(parent: string[], name: string): string {
  return [...parent, name].join('.');
}

function readDocumentDiff(diff: Buffer, at: string[], ops: Op[]): boolean {
  const parent = at.join('.');
  for (const section of rawElements(diff)) {
    const name = section.name.toString('utf8');
    if (name === 'd' || name === 'u' || name === 'i') {
      if (section.type !== 0x03) return false;
      for (const field of rawElements(section.value)) {
        const fieldName = field.name.toString('utf8');
        if (!expressible(fieldName)) return false;
        // The _id can only be moved (a pipeline put a field before it), and only by writing the whole document.
        if (!at.length && fieldName === '_id') return false;
        const path = join(at, fieldName);
        if (name === 'd') ops.push({ kind: 'unset', path });
        else if (name === 'u') ops.push({ kind: 'set', path, value: field });
        else ops.push({ kind: 'insert', path, parent, value: field });
      }
    } else if (name.startsWith('s') && name.length > 1) {
      const fieldName = name.slice(1);
      if (section.type !== 0x03 || !expressible(fieldName)) return false;
      if (!readSubDiff(section.value, [...at, fieldName], ops)) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** A sub-delta: an array's when it says `a: true`, else an embedded document's. */
function readSubDiff(diff: Buffer, at: string[], ops: Op[]): boolean {
  for (const e of rawElements(diff)) {
    if (e.name.length === 1 && e.name[0] === 0x61 /* a */) return e.type === 0x08 && e.value[0] === 1 && readArrayDiff(diff, at, ops);
  }
  return readDocumentDiff(diff, at, ops);
}

function readArrayDiff(diff: Buffer, at: string[], ops: Op[]): boolean {
  let size: number | undefined;
  let highest = -1;
  for (const e of rawElements(diff)) {
    const name = e.name.toString('utf8');
    if (name === 'a') continue;
    if (name === 'l') {
      if (e.type !== 0x10 && e.type !== 0x12 && e.type !== 0x01) return false;
      size = readNumber(e);
      if (!Number.isInteger(size) || size < 0) return false;
      continue;
    }
    const index = /^[us](0|[1-9][0-9]*)$/.exec(name);
    if (!index) return false;
    const position = Number(index[1]);
    highest = Math.max(highest, position);
    // An element set past the end appends, padding with nulls, as the source did.
    if (name[0] === 'u') ops.push({ kind: 'set', path: join(at, index[1]!), value: e });
    else if (e.type !== 0x03 || !readSubDiff(e.value, [...at, index[1]!], ops)) return false;
  }
  if (size !== undefined) {
    // Elements are set first and the array cut after: the same only when no element set lies past the cut.
    if (highest >= size) return false;
    ops.push({ kind: 'truncate', path: at.join('.'), depth: at.length, size });
  }
  return true;
}

/**
 * Packs operations into statements. An appended field is removed, then set: an update operator leaves a field that
 * is there in place and appends one that is not, while the delta appends it either way (a pipeline may have moved
 * it). The first statement holds every replacement and removal, and the removal of every appended field; the next
 * sets the first appended field of each embedded document, the next the second, and so on (an operator creates the
 * new fields of one statement in its own order, not the delta's); every cut of an array comes last, one per
 * statement (deepest first), since it names the array whose elements the others set.
 */
function pack(ops: Op[]): DiffStatement[] {
  const statements: Op[][] = [[]];
  const appended = new Map<string, number>();
  for (const op of ops) {
    if (op.kind === 'truncate') continue;
    if (op.kind !== 'insert') {
      statements[0]!.push(op);
      continue;
    }
    statements[0]!.push({ kind: 'unset', path: op.path });
    const slot = (appended.get(op.parent) ?? 0) + 1;
    appended.set(op.parent, slot);
    (statements[slot] ??= []).push({ kind: 'set', path: op.path, value: op.value });
  }
  const cuts = ops.filter((op): op is Extract<Op, { kind: 'truncate' }> => op.kind === 'truncate').sort((a, b) => b.depth - a.depth);
  for (const cut of cuts) statements.push([cut]);
  return statements.filter((s) => s.length > 0).map(statementOf);
}

const EMPTY_STRING = Buffer.from([1, 0, 0, 0, 0]);
const EMPTY_ARRAY = rawDocument([]);

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n, 0);
  return b;
}

function statementOf(ops: Op[]): DiffStatement {
  const set: Buffer[] = [];
  const unset: Buffer[] = [];
  const push: Buffer[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'set':
        // A top-level field keeps its own element's bytes (its name is the path).
        set.push(op.path.includes('.') ? rawElement(op.value.type, op.path, op.value.value) : op.value.bytes);
        break;
      case 'unset':
        unset.push(rawElement(0x02, op.path, EMPTY_STRING));
        break;
      case 'truncate':
        push.push(rawElement(0x03, op.path, rawDocument([rawElement(0x04, '$each', EMPTY_ARRAY), rawElement(0x10, '$slice', int32(op.size))])));
        break;
      case 'insert':
        throw new Error('an appended field is packed as a removal and a set');
    }
  }
  const operators: Buffer[] = [];
  if (set.length) operators.push(rawElement(0x03, '$set', rawDocument(set)));
  if (unset.length) operators.push(rawElement(0x03, '$unset', rawDocument(unset)));
  if (push.length) operators.push(rawElement(0x03, '$push', rawDocument(push)));
  const update = rawDocument(operators);
  const sets = ops.filter((op): op is Extract<Op, { kind: 'set' }> => op.kind === 'set');
  const plain = sets.length === ops.length && sets.every((op) => !op.path.includes('.') && PLAIN_SCALARS.has(op.value.type));
  return plain ? { update, fields: new PlainFields(update) } : { update };
}

/**
 * Values a pipeline sets exactly as an update operator does (set-writes.ts): numbers, strings, binary data, ObjectId,
 * booleans, dates, null. Not documents or arrays (an aggregation document keeps one of two fields of the same name),
 * not a Timestamp (an empty one may be filled in by the server), not the deprecated types.
 */
const PLAIN_SCALARS: ReadonlySet<number> = new Set([0x01, 0x02, 0x05, 0x07, 0x08, 0x09, 0x0a, 0x10, 0x12, 0x13]);
