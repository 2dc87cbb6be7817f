import { BSON, MongoBulkWriteError, type Collection, type Document, type MongoClient } from 'mongodb';
// The driver's own OP_MSG document-sequence section (internal, not typed; declared in driver-internals.d.ts).
// Imported statically so that bundles hold the one copy of the module the driver itself uses: the driver
// recognises a sequence by `instanceof`.
import * as driverCommands from 'mongodb/lib/cmap/commands.js';
import { decodeOrdered } from '../../mongo/ordered-decode.js';
import { withinBound } from '../../mongo/stall-bound.js';
import { database } from '../../mongo/databases.js';

/** Decode with exact BSON types: an integral double must stay a double, a Long a Long, a regex its flags. */
export const EXACT_TYPES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** What an `insert` reply says went wrong (unordered: the other documents were inserted). */
export interface InsertOutcome {
  inserted: number;
  /** Write errors other than duplicate keys (a resumed batch meets its own documents again: expected). */
  failures: { index: number; code: number; errmsg: string }[];
}

const DocumentSequence = (driverCommands as { DocumentSequence?: new (field: string) => { push(document: unknown, buffer: Uint8Array): number } }).DocumentSequence;

/** True when raw documents can go to the server as they were read (this driver has document sequences). */
export const RAW_INSERT_SUPPORTED = typeof DocumentSequence === 'function';

/**
 * Inserts documents given as raw BSON without decoding or re-encoding them: the bytes read from the source
 * go out as an OP_MSG document sequence (`documents`), the way the driver itself sends bulk writes. This is
 * exact by construction (no type can change) and skips the two most expensive steps of a copy on a small
 * machine: BSON deserialize and serialize of every document, and the garbage they make.
 * Without document sequences in the driver (another version), falls back to decode (exact types) + insert.
 */
export async function insertRaw(destination: MongoClient, db: string, coll: string, docs: Buffer[], writeConcern: Document): Promise<InsertOutcome> {
  if (!RAW_INSERT_SUPPORTED) return insertDecoded(destination.db(db).collection(coll), docs, writeConcern);
  const reply = await writeRaw(destination, db, { insert: coll, ordered: false, bypassDocumentValidation: true, writeConcern }, 'documents', docs);
  const errors = (reply.writeErrors ?? []) as { index: number; code: number; errmsg: string }[];
  const inserted = Number(reply.n ?? 0);
  // A reply that accounts for fewer documents than were sent means they did not all arrive: never go on.
  if (inserted + errors.length !== docs.length) throw new Error(`insert into ${db}.${coll} acknowledged ${inserted} of ${docs.length} documents with ${errors.length} errors`);
  return { inserted, failures: errors.filter((e) => e.code !== 11000) };
}

/**
 * Sends a write command whose statements (`documents`, `updates` or `deletes`) are raw BSON, as an OP_MSG
 * document sequence: the bytes go out as they are. Throws on a write concern error; write errors are the
 * caller's to read. With `boundMs`, a command with no reply by then is aborted (see stall-bound.ts).
 */
export async function writeRaw(destination: MongoClient, db: string, command: Document, field: 'documents' | 'updates' | 'deletes', statements: Buffer[], boundMs?: number): Promise<Document> {
  if (!RAW_INSERT_SUPPORTED) throw new Error('this version of the MongoDB driver cannot send raw documents (no OP_MSG document sequences)');
  const sequence = new DocumentSequence!(field);
  for (const statement of statements) sequence.push(statement, statement);
  // fieldsAsRaw (a BSON option the driver passes through, undeclared for commands): write errors arrive as bytes and are
  // decoded here in stored order, so that a duplicate's keyValue holding a document finds that document again.
  const options = { fieldsAsRaw: { writeErrors: true } } as Document;
  const send = (signal?: AbortSignal): Promise<Document> => database(destination, db).command({ ...command, [field]: sequence }, signal ? { ...options, signal } : options);
  const reply = boundMs === undefined ? await send() : await withinBound(`a write to ${db}`, boundMs, send);
  if (Array.isArray(reply.writeErrors)) reply.writeErrors = reply.writeErrors.map((error: unknown) => (Buffer.isBuffer(error) ? decodeOrdered(error) : error));
  if (reply.writeConcernError) throw Object.assign(new Error(`write concern error writing to ${db}: ${JSON.stringify(reply.writeConcernError)}`), { code: (reply.writeConcernError as { code?: number }).code });
  return reply;
}

async function insertDecoded(target: Collection, docs: Buffer[], writeConcern: Document): Promise<InsertOutcome> {
  try {
    const result = await target.insertMany(docs.map((raw) => BSON.deserialize(raw, EXACT_TYPES)), { ordered: false, bypassDocumentValidation: true, writeConcern });
    return { inserted: result.insertedCount, failures: [] };
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError) || error.writeConcernError) throw error;
    const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    return { inserted: error.insertedCount, failures: errors.filter((e) => e.code !== 11000).map((e) => ({ index: e.index, code: e.code, errmsg: e.errmsg ?? '' })) };
  }
}
