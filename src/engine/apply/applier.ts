import type { AnyBulkWriteOperation, Document, MongoClient } from 'mongodb';
import type { Logger } from '../../log.js';
import { EXACT_TYPES } from '../copy/copy-partition.js';
import { ns, type NamespaceFilter } from '../namespaces.js';
import type { StateStore } from '../state/store.js';
import { applyDdl } from './ddl.js';
import { idKey } from './id-key.js';

const DATA_EVENTS = new Set(['insert', 'update', 'replace', 'delete']);
/** Operations per bulk write; several run at once. Ops in a batch touch distinct documents, so any split is safe. */
const CHUNK = 500;

export interface ApplierContext {
  source: MongoClient;
  destination: MongoClient;
  filter: NamespaceFilter;
  store: StateStore;
  log: Logger;
  concurrency: number;
  assertLease: () => void;
}

type Put = { kind: 'put'; id: unknown; doc: Document };
type Del = { kind: 'del'; id: unknown };
type Lookup = { kind: 'lookup'; id: unknown; source: { db: string; coll: string } };
type Op = Put | Del | Lookup;

/**
 * Applies change events to the destination so that it converges from any copied version of a document:
 * insert/replace write the event's full document, update writes the looked-up current document (or nothing
 * when the lookup found none: a delete follows), delete deletes. Every operation sets a document to a state
 * the source had, so within a batch only the last operation per document matters: the batch is reduced to
 * one operation per document and applied as unordered, parallel bulk writes. DDL splits batches: data before
 * it is applied first.
 */
export class Applier {
  readonly knownTargets = new Set<string>();
  applied = 0;

  constructor(private readonly ctx: ApplierContext) {}

  async apply(events: Document[]): Promise<void> {
    let segment: Document[] = [];
    for (const event of events) {
      if (DATA_EVENTS.has(event.operationType as string)) {
        segment.push(event);
        continue;
      }
      await this.applyData(segment);
      segment = [];
      this.ctx.assertLease();
      await applyDdl({ ...this.ctx, knownTargets: this.knownTargets }, event);
    }
    await this.applyData(segment);
    this.applied += events.length;
  }

  private async applyData(events: Document[]): Promise<void> {
    if (!events.length) return;
    // target namespace → document key → last operation
    const byTarget = new Map<string, Map<string, Op>>();
    for (const event of events) {
      const source = event.ns as { db: string; coll: string };
      const target = this.ctx.filter.target(source.db, source.coll);
      const op = toOp(event, source);
      if (!op) continue;
      const key = ns(target.db, target.coll);
      let ops = byTarget.get(key);
      if (!ops) byTarget.set(key, (ops = new Map()));
      ops.set(idKey(op.id), op);
    }
    const jobs: (() => Promise<unknown>)[] = [];
    for (const [target, ops] of byTarget) {
      await this.ensureTarget(target);
      const resolved = await this.resolveLookups([...ops.values()]);
      const writes = resolved.map(toWrite);
      for (let i = 0; i < writes.length; i += CHUNK) {
        const chunk = writes.slice(i, i + CHUNK);
        jobs.push(() => this.write(target, chunk));
      }
    }
    this.ctx.assertLease();
    await runLimited(jobs, this.ctx.concurrency);
  }

  /** Too-large buffered events carry no document: fetch the current one, as updateLookup would. */
  private async resolveLookups(ops: Op[]): Promise<(Put | Del)[]> {
    const out: (Put | Del)[] = [];
    for (const op of ops) {
      if (op.kind !== 'lookup') {
        out.push(op);
        continue;
      }
      const doc = await this.ctx.source.db(op.source.db).collection(op.source.coll).findOne({ _id: op.id } as Document, EXACT_TYPES);
      if (doc) out.push({ kind: 'put', id: op.id, doc });
    }
    return out;
  }

  private async write(target: string, writes: AnyBulkWriteOperation[]): Promise<void> {
    const dot = target.indexOf('.');
    await this.ctx.destination
      .db(target.slice(0, dot))
      .collection(target.slice(dot + 1))
      .bulkWrite(writes, { ordered: false, bypassDocumentValidation: true, writeConcern: { w: 'majority' } });
  }

  /**
   * Creates a missing target collection once, before any parallel write: concurrent implicit creation of
   * one namespace is a race (and crashes some builds of mongod).
   */
  private async ensureTarget(target: string): Promise<void> {
    if (this.knownTargets.has(target)) return;
    const dot = target.indexOf('.');
    const db = this.ctx.destination.db(target.slice(0, dot));
    const coll = target.slice(dot + 1);
    const exists = await db.listCollections({ name: coll }, { nameOnly: true }).toArray();
    if (!exists.length) {
      await db.createCollection(coll).catch((error: { code?: number }) => {
        if (error.code !== 48) throw error;
      });
    }
    this.knownTargets.add(target);
  }
}

function toOp(event: Document, source: { db: string; coll: string }): Op | undefined {
  const id = (event.documentKey as Document | undefined)?._id;
  switch (event.operationType) {
    case 'insert':
    case 'replace':
      if (event.refetch) return { kind: 'lookup', id, source };
      return { kind: 'put', id, doc: event.fullDocument as Document };
    case 'update':
      if (event.refetch) return { kind: 'lookup', id, source };
      // No document at lookup time: it was deleted since, and that delete is further down the stream.
      return event.fullDocument ? { kind: 'put', id, doc: event.fullDocument as Document } : undefined;
    case 'delete':
      return { kind: 'del', id };
    default:
      return undefined;
  }
}

function toWrite(op: Put | Del): AnyBulkWriteOperation {
  // _id can be any BSON value; the driver's typing assumes ObjectId.
  const filter = { _id: op.id } as Document;
  if (op.kind === 'del') return { deleteOne: { filter } };
  if (Object.keys(op.doc).some((key) => key.startsWith('$'))) {
    // A replacement document may not have $-prefixed top-level fields (MongoDB 5.0+ stores them, but
    // replaceOne refuses them): set the whole document through a pipeline, $literal so nothing is evaluated.
    return { updateOne: { filter, update: [{ $replaceWith: { $literal: op.doc } }], upsert: true } };
  }
  return { replaceOne: { filter, replacement: op.doc, upsert: true } };
}

/** Runs the jobs with at most `limit` in flight; the first failure is thrown after the others settle. */
export async function runLimited(jobs: (() => Promise<unknown>)[], limit: number): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure !== undefined) throw failure;
}
