import type { Namespace } from '../../namespaces.js';
import { holdsIdAlone, rawDocument, rawElement } from '../../mongo/raw-bson.js';
import { writeRaw } from '../copy/raw-insert.js';
import { cut } from './cut.js';
import { shortCommandBound } from '../../mongo/stall-bound.js';
import { COMMAND_BYTES, writeCommand, writeUnordered, type DeltaWrite, type Destination, type Write, type WriteJob } from './raw-writes.js';

/**
 * Writes of many documents in one statement, the way a batch job wrote them on the source: a deleteMany arrives as
 * one delete event per document, an updateMany as one update per document, and a statement per document costs the
 * destination far more than the document does (measured alone, 20,000 documents, bench/README.md: deletes 2.0-2.6 s
 * of mongod CPU one statement each against 0.9 s by `_id: {$in}`; the same `$set` 3.7-4.5 s against 1.3-1.6 s;
 * `$inc`-shaped updates, each its own values, 3.4-3.7 s against 1.8-2.0 s).
 *
 * Only for documents written once in their batch, in a collection written in any order (the applier's `single`
 * writes: their `_id`s are distinct for the server too), keyed by `_id` alone:
 * - deletes: `{_id: {$in: ids}}`, as many as match (a document already gone is as the source left it);
 * - update deltas with the same statement: that statement for `{_id: {$in: ids}}`;
 * - update deltas that set the same top-level fields to plain scalars (DiffStatement.fields), each its own values:
 *   a pipeline that sets each field to the value at the document's `_id`'s place in the list (`$indexOfArray`).
 * An update statement must match every document it names (the destination holds their pre-images: read-horizon.ts);
 * when it does not, or anything is refused, the same writes are sent again one statement each (a delta applied
 * twice ends in the same state: update-diff.ts), which says exactly which documents missed or were refused.
 */

/** Documents in one statement: `$indexOfArray` reads the list once per field of each document written. */
const SET_SIZE = 125;
/** Below this many documents of one shape, one statement each costs the destination less. */
const MIN_SET = 4;
/** Bytes of `_id`s and values in one statement, far under a statement's 16 MB. */
const SET_BYTES = 2 * 1024 * 1024;
/** An update larger than this is sent one document a statement (a set statement carries it once, with the ids). */
const SHARED_UPDATE_BYTES = 1024 * 1024;

/** A group of writes one statement covers, and how to make that statement for the ones still to write. */
interface SetStatement {
  writes: Write[];
  /** About the statement's size. */
  bytes: number;
  statement(writes: Write[]): Buffer;
}

/**
 * Splits the writes into jobs of set statements (each job one command) and the writes left to write one statement
 * each. `chunk` is the documents per command the caller wants (see applier.ts chunkFor).
 */
export function setWriteJobs(destination: Destination, target: Namespace, writes: Write[], chunk: number): { jobs: WriteJob[]; rest: Write[] } {
  const rest: Write[] = [];
  const deletes: Write[] = [];
  const same = new Map<string, DeltaWrite[]>();
  for (const write of writes) {
    if (!holdsIdAlone(write.key)) rest.push(write);
    else if (write.kind === 'del') deletes.push(write);
    else if (write.kind === 'upd' && write.statements.length === 1 && write.statements[0]!.update.length <= SHARED_UPDATE_BYTES) {
      const key = write.statements[0]!.update.toString('latin1');
      const group = same.get(key);
      if (group) group.push(write);
      else same.set(key, [write]);
    } else rest.push(write);
  }
  const updates: SetStatement[] = [];
  const shaped = new Map<string, DeltaWrite[]>();
  for (const group of same.values()) {
    if (group.length >= MIN_SET) {
      const update = group[0]!.statements[0]!.update;
      for (const part of parts(group, () => 0)) updates.push({ writes: part, bytes: idBytes(part) + update.length, statement: (left) => updateStatement(left, update) });
      continue;
    }
    for (const write of group) {
      const fields = write.statements[0]!.fields;
      if (!fields) {
        rest.push(write);
        continue;
      }
      const shape = fields.shape();
      const similar = shaped.get(shape);
      if (similar) similar.push(write);
      else shaped.set(shape, [write]);
    }
  }
  for (const group of shaped.values()) {
    if (group.length < MIN_SET) {
      rest.push(...group);
      continue;
    }
    for (const part of parts(group, valueBytes)) updates.push({ writes: part, bytes: idBytes(part) * (part[0]!.statements[0]!.fields!.length + 1) + part.reduce((n, w) => n + valueBytes(w), 0), statement: pipelineStatement });
  }
  const removals: SetStatement[] = [];
  if (deletes.length >= MIN_SET) for (const part of parts(deletes, () => 0)) removals.push({ writes: part, bytes: idBytes(part), statement: deleteStatement });
  else rest.push(...deletes);
  const jobs = [...commands(removals, chunk).map((sets) => setJob(destination, target, 'del', sets)), ...commands(updates, chunk).map((sets) => setJob(destination, target, 'upd', sets))];
  return { jobs, rest };
}

/** Cuts a group into statements of at most SET_SIZE documents and SET_BYTES of ids and values. */
function parts<W extends Write>(group: W[], bytesOf: (write: W) => number): W[][] {
  return cut(group, SET_SIZE, SET_BYTES, (w) => w.key.length + bytesOf(w));
}

function idBytes(writes: Write[]): number {
  return writes.reduce((n, w) => n + w.key.length, 0);
}

function valueBytes(write: DeltaWrite): number {
  return write.statements[0]!.fields!.valueBytes();
}

/** Statements grouped into commands of about `chunk` documents (one statement at least) and about COMMAND_BYTES. */
function commands(statements: SetStatement[], chunk: number): SetStatement[][] {
  return cut(statements, chunk, COMMAND_BYTES, (s) => s.bytes, (s) => s.writes.length);
}

/**
 * One command of set statements. Run again after a duplicate-key resolution, it leaves out what that settled; a set
 * left too small is written one statement each, with the sets that need it (see writeUnordered: all are attempted,
 * and the documents that missed are named together).
 */
function setJob(destination: Destination, target: Namespace, kind: 'del' | 'upd', sets: SetStatement[]): WriteJob {
  return async (leaveOut) => {
    const statements: Buffer[] = [];
    const covered: Write[] = [];
    const single: Write[] = [];
    for (const set of sets) {
      const left = set.writes.filter((w) => !leaveOut(w));
      if (left.length >= MIN_SET) {
        statements.push(set.statement(left));
        covered.push(...left);
      } else single.push(...left);
    }
    if (statements.length) {
      const command = writeCommand(destination, kind === 'del' ? 'delete' : 'update', target, false);
      const started = performance.now();
      const reply = await writeRaw(destination.client, target.db, command, kind === 'del' ? 'deletes' : 'updates', statements, destination.writeConcern ? undefined : shortCommandBound());
      destination.timed?.(`${kind}-set`, covered.length, performance.now() - started);
      destination.acknowledged(reply);
      const refused = Array.isArray(reply.writeErrors) && reply.writeErrors.length > 0;
      // A delete of a document already gone is the source's state; an update that matched fewer than it names did
      // not find them all. Either way one statement each tells which, and what to do about it.
      const unmatched = kind === 'upd' && Number(reply.n ?? 0) !== covered.length;
      if (refused || unmatched) single.push(...covered);
      else destination.grouped?.(covered.length, statements.length);
    }
    if (single.length) await writeUnordered(destination, target, kind, single);
  };
}

const ZERO = Buffer.from([0, 0, 0, 0]);
const TRUE = Buffer.of(1);

/** `{_id: {$in: [ids]}}` of the writes' keys. */
function idsFilter(writes: Write[]): Buffer {
  return rawDocument([rawElement(0x03, '_id', rawDocument([rawElement(0x04, '$in', idArray(writes))]))]);
}

/** Bytes of a key `{_id: value}` before the value: its length, the type byte and the name `_id` with its 0x00. */
const KEY_HEAD = 4 + 1 + 4;

function idArray(writes: Write[]): Buffer {
  // Each key holds the _id alone (setWriteJobs): its type byte and value bytes are copied straight into the array,
  // the element named by its index, in one allocation.
  let size = 4 + 1;
  for (let i = 0; i < writes.length; i++) size += 1 + String(i).length + 1 + (writes[i]!.key.length - KEY_HEAD - 1);
  const array = Buffer.allocUnsafe(size);
  array.writeInt32LE(size, 0);
  let at = 4;
  for (let i = 0; i < writes.length; i++) {
    const key = writes[i]!.key;
    array[at++] = key[4]!;
    at += array.write(String(i), at, 'latin1');
    array[at++] = 0;
    at += key.copy(array, at, KEY_HEAD, key.length - 1);
  }
  array[at] = 0;
  return array;
}

function deleteStatement(writes: Write[]): Buffer {
  return rawDocument([rawElement(0x03, 'q', idsFilter(writes)), rawElement(0x10, 'limit', ZERO)]);
}

function updateStatement(writes: Write[], update: Buffer): Buffer {
  return rawDocument([rawElement(0x03, 'q', idsFilter(writes)), rawElement(0x03, 'u', update), rawElement(0x08, 'multi', TRUE)]);
}

/**
 * `[{$set: {field: values[indexOf(ids, $_id)]}}]` for every field of the shape. An `_id` not in the list cannot match
 * the filter; were it ever found, `$arrayElemAt` of -1 would give the last value, so the statement fails instead.
 */
function pipelineStatement(writes: Write[]): Buffer {
  const deltas = writes as DeltaWrite[];
  const ids = literal(idArray(writes));
  const index = rawDocument([rawElement(0x04, '$indexOfArray', rawDocument([rawElement(0x03, '0', ids), rawElement(0x02, '1', bsonString('$_id'))]))]);
  const checked = rawDocument([
    rawElement(0x04, '$cond', rawDocument([rawElement(0x03, '0', rawDocument([rawElement(0x04, '$gte', rawDocument([rawElement(0x02, '0', bsonString('$$i')), rawElement(0x10, '1', ZERO)]))])), rawElement(0x02, '1', bsonString('$$i')), rawElement(0x02, '2', bsonString('an _id outside the list'))])),
  ]);
  const fields = deltas[0]!.statements[0]!.fields!;
  const sets: Buffer[] = [];
  for (let f = 0; f < fields.length; f++) {
    const values = rawDocument(deltas.map((w, i) => w.statements[0]!.fields!.valueElement(f, String(i))));
    const pick = rawDocument([rawElement(0x04, '$arrayElemAt', rawDocument([rawElement(0x03, '0', literal(values)), rawElement(0x03, '1', checked)]))]);
    const bound = rawDocument([rawElement(0x03, '$let', rawDocument([rawElement(0x03, 'vars', rawDocument([rawElement(0x03, 'i', index)])), rawElement(0x03, 'in', pick)]))]);
    sets.push(rawElement(0x03, fields.name(f), bound));
  }
  const pipeline = rawDocument([rawElement(0x03, '0', rawDocument([rawElement(0x03, '$set', rawDocument(sets))]))]);
  return rawDocument([rawElement(0x03, 'q', idsFilter(writes)), rawElement(0x04, 'u', pipeline), rawElement(0x08, 'multi', TRUE)]);
}

/** `{$literal: array}`: the values as they are, never read as expressions or field paths. */
function literal(array: Buffer): Buffer {
  return rawDocument([rawElement(0x04, '$literal', array)]);
}

function bsonString(text: string): Buffer {
  const bytes = Buffer.from(`${text}\0`, 'utf8');
  const length = Buffer.alloc(4);
  length.writeInt32LE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}
