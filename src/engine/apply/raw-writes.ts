import type { Document, MongoClient, UUID } from 'mongodb';
import { embedded, embeddedArray, hasDollarField, rawDocument, rawElement } from '../../mongo/raw-bson.js';
import { writeRaw } from '../copy/raw-insert.js';
import { cut } from './cut.js';
import type { Namespace } from '../../namespaces.js';
import { DATA_WRITE_CONCERN } from './write-terms.js';
import { shortCommandBound } from '../../mongo/stall-bound.js';
import type { DiffStatement } from './update-diff.js';

/**
 * Set a document to a state the source had (the source's bytes), or remove it; `key` is its raw documentKey.
 * `ins` is an insert into a capped collection: an upsert there costs a scan and a lock per statement (14 ms
 * each here), and a document inserted once already is left as it is (a later event changes it if needed).
 * `new` is a document an insert event created, sent as an insert (a fraction of an upsert's cost on the
 * destination, see insertOrPut); one the destination already holds is then written as a `put`, so the result is
 * the put's.
 */
export type Write = { kind: 'put' | 'ins' | 'new'; key: Buffer; doc: Buffer } | { kind: 'del'; key: Buffer } | DeltaWrite;

/**
 * An update's delta, for a document the destination holds exactly as its pre-image (see update-diff.ts). When a
 * statement finds no document or cannot apply (see sendUpdates), the command throws DeltaMissed naming those
 * documents, and the caller writes their current state instead.
 */
export interface DeltaWrite {
  kind: 'upd';
  key: Buffer;
  statements: DiffStatement[];
  /** Whom the caller asks when the delta missed: the event it came from. */
  origin: unknown;
}

/** Delta statements that found no document or were refused: their documents are not known to be right. */
export class DeltaMissed extends Error {
  constructor(
    readonly target: Namespace,
    readonly writes: DeltaWrite[],
  ) {
    super(`applying update deltas to ${target.db}.${target.coll}: ${writes.length} document(s) missing or refused`);
  }
}

const TRUE = Buffer.of(1);
const ONE = Buffer.from([1, 0, 0, 0]);

/**
 * Where data writes go: the destination, and who hears of every acknowledged write. Writes wait for the primary
 * alone (DATA_WRITE_CONCERN); their durability is established at the position save (see write-terms.ts).
 */
export interface Destination {
  client: MongoClient;
  acknowledged(reply: Document): void;
  /** Overrides DATA_WRITE_CONCERN for writes no position save covers (see majorityDestination). */
  writeConcern?: Document;
  /** Told how long each write command took (see writer-limit.ts): its kind of statement, and how many documents. */
  timed?(kind: string, documents: number, ms: number): void;
  /** Told of documents written several to a statement (see set-writes.ts), for the logs and the summary. */
  grouped?(documents: number, statements: number): void;
  /**
   * The destination collection's UUID, for writes made beside the tail (a unique conversion's): the tail may rename
   * the collection at any moment, and a write by name alone would then create a new collection under the old name.
   * With it, the server refuses the write (CollectionUUIDMismatch, 6.0+).
   */
  collectionUUID?: UUID;
}

/** The fields every write command to the destination carries. */
export function writeCommand(destination: Destination, kind: 'insert' | 'update' | 'delete', target: Namespace, ordered: boolean): Document {
  return { [kind]: target.coll, ordered, bypassDocumentValidation: true, writeConcern: destination.writeConcern ?? DATA_WRITE_CONCERN, ...(destination.collectionUUID ? { collectionUUID: destination.collectionUUID } : {}) };
}

/**
 * The destination for writes made outside the tail's batches (a unique index's conversion rewriting documents from
 * the source): no position save follows to make them durable, so each waits for the majority itself.
 */
export function majorityDestination(client: MongoClient, collectionUUID?: UUID): Destination {
  return { client, acknowledged: () => undefined, writeConcern: { w: 'majority' }, ...(collectionUUID ? { collectionUUID } : {}) };
}

/**
 * Writes the primary alone acknowledges are short, and bounded (see stall-bound.ts); a write that waits for the
 * majority may rightly wait for a lagging secondary, and is not.
 */
function boundOf(destination: Destination): number | undefined {
  return destination.writeConcern ? undefined : shortCommandBound();
}

/** `{q: key, u: doc, upsert: true}`, or a pipeline that sets the document as a literal when it has `$` fields. */
function putStatement(key: Buffer, doc: Buffer): Buffer {
  // A replacement document may not have $-prefixed top-level fields (MongoDB 5.0+ stores them, but a
  // replacement refuses them): then the whole document is set through $replaceWith of a $literal.
  const update = hasDollarField(doc)
    ? embeddedArray('u', [rawDocument([embedded('$replaceWith', rawDocument([embedded('$literal', doc)]))])])
    : embedded('u', doc);
  return rawDocument([embedded('q', key), update, rawElement(0x08, 'upsert', TRUE)]);
}

/** `{q: {_id}, u: update, upsert: true}` (see sendUpdates). */
function deltaStatement(key: Buffer, statement: DiffStatement): Buffer {
  return rawDocument([embedded('q', key), embedded('u', statement.update), rawElement(0x08, 'upsert', TRUE)]);
}

function deleteStatement(key: Buffer): Buffer {
  return rawDocument([embedded('q', key), rawElement(0x10, 'limit', ONE)]);
}

/** Sends one run of writes of one kind (puts and deltas: see sendUpdates); ordered when their order matters (capped, same document). */
async function send(destination: Destination, target: Namespace, kind: Write['kind'], writes: Write[], ordered: boolean): Promise<void> {
  if (kind === 'ins') return insertInOrder(destination, target, writes);
  if (kind === 'new') return insertOrPut(destination, target, writes);
  if (kind === 'put' || kind === 'upd') return sendUpdates(destination, target, writes as UpdateWrite[], ordered);
  const statements = writes.map((w) => deleteStatement(w.key));
  const command = writeCommand(destination, 'delete', target, ordered);
  const started = performance.now();
  const reply = await writeRaw(destination.client, target.db, command, 'deletes', statements, boundOf(destination));
  destination.timed?.(kind, statements.length, performance.now() - started);
  destination.acknowledged(reply);
  const errors = (reply.writeErrors ?? []) as WriteError[];
  if (errors.length) throw refused(target, errors, writes);
}

/** The writes an `update` command carries: whole documents (puts) and deltas, in one command when unordered. */
type UpdateWrite = { kind: 'put'; key: Buffer; doc: Buffer } | DeltaWrite;

/**
 * Puts and deltas as upserts in one update command (unordered, the small batches of a steady load send half as
 * many commands so: bench/README.md). Every put either matches or inserts; a delta that inserts (its document was
 * not there) or is refused missed, by index: exactly the documents that missed are known (DeltaMissed). A put
 * refused (a unique index) throws the refusal for resolve-duplicates.ts, carrying the deltas that missed beside it
 * (`missed`), for the caller to write from the source once the refusal is resolved (see updateJob).
 */
async function sendUpdates(destination: Destination, target: Namespace, writes: UpdateWrite[], ordered: boolean): Promise<void> {
  const owners: UpdateWrite[] = [];
  const statements: Buffer[] = [];
  for (const write of writes) {
    if (write.kind === 'put') {
      statements.push(putStatement(write.key, write.doc));
      owners.push(write);
      continue;
    }
    for (const statement of write.statements) {
      statements.push(deltaStatement(write.key, statement));
      owners.push(write);
    }
  }
  const command = writeCommand(destination, 'update', target, ordered);
  const started = performance.now();
  const reply = await writeRaw(destination.client, target.db, command, 'updates', statements, boundOf(destination));
  const kinds = new Set(writes.map((w) => w.kind));
  destination.timed?.(kinds.size === 1 ? writes[0]!.kind : 'put+upd', statements.length, performance.now() - started);
  destination.acknowledged(reply);
  const errors = (reply.writeErrors ?? []) as WriteError[];
  const upserted = (reply.upserted ?? []) as { index: number }[];
  const missed = new Set<DeltaWrite>();
  const refusals: WriteError[] = [];
  for (const error of errors) {
    const owner = owners[error.index]!;
    if (owner.kind === 'upd') missed.add(owner);
    else refusals.push(error);
  }
  for (const { index } of upserted) {
    const owner = owners[index]!;
    if (owner.kind === 'upd') missed.add(owner);
  }
  // An ordered command stops at its first refusal: the deltas after it were not run (puts after it are sent again
  // when the refusal is resolved).
  if (ordered && errors.length) for (const owner of owners.slice(errors[0]!.index)) if (owner.kind === 'upd') missed.add(owner);
  // Statements neither acknowledged nor refused did not arrive: nothing of the command is known then.
  const arrived = (ordered && errors.length > 0) || Number(reply.n ?? 0) + errors.length === statements.length;
  if (!arrived) {
    if (kinds.has('put')) throw new Error(`applying changes to ${target.db}.${target.coll}: ${String(reply.n)} of ${statements.length} writes acknowledged`);
    for (const owner of owners) missed.add(owner as DeltaWrite);
  }
  if (refusals.length) throw Object.assign(refused(target, refusals, owners), { missed: [...missed] });
  if (missed.size) throw new DeltaMissed(target, [...missed]);
}

type WriteError = { index: number; code: number; errmsg: string; keyPattern?: Document; keyValue?: Document };

function refused(target: Namespace, errors: WriteError[], writes?: Write[]): Error {
  const first = errors[0]!;
  // Duplicate keys carry what resolve-duplicates.ts needs: the refused document and the key value it collided on.
  const duplicates = writes ? errors.filter((e) => e.code === 11000).map((e) => ({ target, key: writes[e.index]!.key, keyValue: e.keyValue, keyPattern: e.keyPattern })) : [];
  return Object.assign(new Error(`applying changes to ${target.db}.${target.coll}: ${errors.length} writes refused, first: ${first.errmsg}`), { code: first.code, duplicates });
}

/**
 * Ordered inserts that step over documents already there (a batch applied again after a crash): a duplicate
 * `_id` only. A duplicate on a unique secondary index is a refusal like any other (resolve-duplicates.ts).
 */
async function insertInOrder(destination: Destination, target: Namespace, writes: Write[]): Promise<void> {
  let left = writes;
  while (left.length) {
    const command = writeCommand(destination, 'insert', target, true);
    const reply = await writeRaw(destination.client, target.db, command, 'documents', left.map((w) => (w as { doc: Buffer }).doc), boundOf(destination));
    destination.acknowledged(reply);
    const errors = (reply.writeErrors ?? []) as WriteError[];
    if (!errors.length) return;
    if (!isDuplicateId(errors[0]!)) throw refused(target, errors, left);
    left = left.slice(errors[0]!.index + 1);
  }
}

/**
 * Documents of insert events, each written once in this command (distinct documents, see unorderedJobs): an
 * unordered insert, then a put for every one whose `_id` the destination already holds (a batch applied again
 * after a crash, a document the copy already saw). Either way the document ends as the put would leave it. A
 * duplicate on another unique index is a refusal, as the put's would be (resolve-duplicates.ts).
 */
async function insertOrPut(destination: Destination, target: Namespace, writes: Write[]): Promise<void> {
  const command = writeCommand(destination, 'insert', target, false);
  const started = performance.now();
  const reply = await writeRaw(destination.client, target.db, command, 'documents', writes.map((w) => (w as { doc: Buffer }).doc), boundOf(destination));
  destination.timed?.('new', writes.length, performance.now() - started);
  destination.acknowledged(reply);
  const errors = (reply.writeErrors ?? []) as WriteError[];
  const refusals = errors.filter((e) => !isDuplicateId(e));
  if (refusals.length) throw refused(target, refusals, writes);
  // An insert neither acknowledged nor refused did not arrive: never go on.
  if (Number(reply.n ?? 0) + errors.length !== writes.length) throw new Error(`applying changes to ${target.db}.${target.coll}: ${String(reply.n)} of ${writes.length} inserts acknowledged with ${errors.length} errors`);
  const present = errors.map((e) => writes[e.index]!);
  if (present.length) await send(destination, target, 'put', present.map((w) => ({ ...w, kind: 'put' }) as Write), false);
}

function isDuplicateId(error: WriteError): boolean {
  if (error.code !== 11000) return false;
  if (error.keyPattern) return Object.keys(error.keyPattern).join() === '_id';
  return / index: _id_ /.test(error.errmsg);
}

/**
 * Writes of one kind to distinct documents, one statement each, in unordered commands of at most MAX_UNORDERED and
 * about COMMAND_BYTES. Every command is sent even when deltas of an earlier one missed; those are named together.
 */
export async function writeUnordered(destination: Destination, target: Namespace, kind: Write['kind'], writes: Write[]): Promise<void> {
  const missed: DeltaWrite[] = [];
  for (const part of chunks(writes, MAX_UNORDERED)) {
    try {
      await send(destination, target, kind, part, false);
    } catch (error) {
      if (!(error instanceof DeltaMissed)) throw error;
      missed.push(...error.writes);
    }
  }
  if (missed.length) throw new DeltaMissed(target, missed);
}

/** Statements per command of writeUnordered (the applier's largest). */
const MAX_UNORDERED = 500;

/** Splits writes into runs of one kind, keeping their order. */
function runs(writes: Write[]): Write[][] {
  const out: Write[][] = [];
  for (const write of writes) {
    const last = out[out.length - 1];
    if (last && last[0]!.kind === write.kind) last.push(write);
    else out.push([write]);
  }
  return out;
}

/** A command's statements stay well under a message's 48 MB, whatever the documents' size. */
export const COMMAND_BYTES = 8 * 1024 * 1024;

/** Cuts writes into commands of at most `count` statements and about COMMAND_BYTES (one statement at least). */
function chunks(writes: Write[], count: number): Write[][] {
  return cut(writes, count, COMMAND_BYTES, (w) => w.key.length + (w.kind === 'del' ? 0 : w.kind === 'upd' ? w.statements.reduce((n, s) => n + s.update.length, 0) : w.doc.length));
}

/** Writes in the given order (each run of one kind in ordered commands). */
export async function writeInOrder(destination: Destination, target: Namespace, writes: Write[], chunk: number): Promise<void> {
  for (const run of runs(writes)) {
    for (const part of chunks(run, chunk)) await send(destination, target, run[0]!.kind, part, true);
  }
}

/** A write job; run again after a conflict, it leaves out the writes `leaveOut` names (see resolve-duplicates.ts). */
export type WriteJob = (leaveOut: (write: Write) => boolean) => Promise<void>;

/**
 * Jobs that write distinct documents in any order, in unordered chunks: puts and deltas together (one update
 * command), deletes apart, inserts apart unless they are few (then they ride in the update command as puts: a
 * command saved is worth more to a small batch than an insert's cheaper statement).
 */
export function unorderedJobs(destination: Destination, target: Namespace, writes: Write[], chunk: number): WriteJob[] {
  const inserts = writes.filter((w) => w.kind === 'new').length;
  const fold = inserts > 0 && inserts < FOLDED_INSERTS;
  const updates: Write[] = [];
  const rest: Write[] = [];
  for (const write of writes) {
    if (write.kind === 'put' || write.kind === 'upd') updates.push(write);
    else if (write.kind === 'new' && fold) updates.push({ ...write, kind: 'put' });
    else rest.push(write);
  }
  const jobs = chunks(updates, chunk).map((part) => updateJob(destination, target, part));
  for (const kind of ['new', 'ins', 'del'] as const) {
    for (const part of chunks(rest.filter((w) => w.kind === kind), chunk)) {
      jobs.push(async (leaveOut) => {
        const left = part.filter((w) => !leaveOut(w));
        if (left.length) await send(destination, target, kind, left, false);
      });
    }
  }
  return jobs;
}

/** Fewer inserts than this in a batch's collection go in its update command, as puts. */
const FOLDED_INSERTS = 16;

/**
 * One unordered update command of puts and deltas (see sendUpdates). Run again after a put's refusal is resolved
 * (resolve-duplicates.ts), it sends its puts again but never a delta twice: a delta that missed inserted a document
 * of its own fields alone, which a second run would match and take for applied. The deltas that missed in any
 * run are reported once the job's puts are all written (DeltaMissed: the caller writes those documents from the
 * source); a job that fails otherwise fails its batch, which runs again from the last saved position.
 */
function updateJob(destination: Destination, target: Namespace, part: Write[]): WriteJob {
  const sent = new Set<Write>();
  const missed: DeltaWrite[] = [];
  return async (leaveOut) => {
    const left = part.filter((w) => !sent.has(w) && !leaveOut(w));
    for (const write of left) if (write.kind === 'upd') sent.add(write);
    try {
      if (left.length) await sendUpdates(destination, target, left as UpdateWrite[], false);
    } catch (error) {
      if (error instanceof DeltaMissed) missed.push(...error.writes);
      else {
        missed.push(...(((error as { missed?: DeltaWrite[] }).missed) ?? []));
        throw error;
      }
    }
    if (missed.length) throw new DeltaMissed(target, missed.splice(0));
  };
}

/** A job that writes in the given order (see writeInOrder). */
export function orderedJob(destination: Destination, target: Namespace, writes: Write[], chunk: number): WriteJob {
  return (leaveOut) => writeInOrder(destination, target, writes.filter((w) => !leaveOut(w)), chunk);
}
