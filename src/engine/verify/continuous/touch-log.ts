import { Binary, ObjectId, type Timestamp } from 'mongodb';
import { withinShortBound } from '../../../mongo/stall-bound.js';
import { bytesOf } from '../../../mongo/raw-bson.js';
import { lastWriteTime } from '../../../mongo/introspection.js';
import { DATA_WRITE_CONCERN } from '../../apply/write-terms.js';
import { checkedReply, MAJORITY, type StateStore } from '../../state/store.js';
import type { TouchLogDoc } from '../../state/types.js';
import { documentSlot, type AcknowledgedWrites, type RecheckQueue, type TouchedDocument } from './recheck-queue.js';
import { compareDocuments } from './recheck.js';
import type { TouchedKeys } from './touched-keys.js';

/** Entries per log record: a record stays far below the 16 MB document limit whatever the keys' size. */
const RECORD_ENTRIES = 5_000;
/** Entries compared per step: a step's reads stay a few thousand documents on each side. */
const STEP_ENTRIES = 4_000;

/**
 * When due records are worth a comparison step: at least `entries` of them, or one logged `olderThanMs` ago.
 * A step costs about a dozen commands on the two sides whatever its size.
 */
export interface WorthComparing {
  entries: number;
  olderThanMs: number;
}

/**
 * The tail's touches, one record per batch instead of one recheck entry per document: under a batch job that
 * touches documents already compared, an entry each doubled the destination's writes (bench/: a 65k-operation
 * burst took 41 s against 26 s before verification had compared them). A record is written like the queue's
 * entries were, before its batch is applied and covered by the next position save, so a crash re-logs, never
 * loses. The verifier reads the records whose events the saved position has passed, compares their documents at
 * once (source as of that position, destination now), and queues only what differs; a record is deleted once
 * compared. A document whose later touch is still on its way (logged past the saved position) is left to that
 * touch's record, and the queue's own rechecks leave it too (see `inFlux`): the destination may hold that write
 * already, the source as of the saved position not yet.
 */
export class TouchLog {
  constructor(
    private readonly store: StateStore,
    /** Told of every key logged and compared, in this process (the destination watch skips what they cover). */
    private readonly touched?: TouchedKeys,
  ) {}

  /** Logs a batch's touched documents (with the tail's terms: acknowledged by the primary, made durable by the next position save). */
  async append(docs: readonly TouchedDocument[], terms: AcknowledgedWrites): Promise<void> {
    for (let from = 0; from < docs.length; from += RECORD_ENTRIES) {
      const slice = docs.slice(from, from + RECORD_ENTRIES);
      const namespaces = new Map<string, number>();
      const ns: { s: string; t: string }[] = [];
      const record: TouchLogDoc = { _id: new ObjectId(), m: this.store.name, at: slice[0]!.at!, ns, i: [], k: [], a: [] };
      for (const doc of slice) {
        const name = `${doc.source}\u0000${doc.target}`;
        let index = namespaces.get(name);
        if (index === undefined) {
          index = ns.length;
          namespaces.set(name, index);
          ns.push({ s: doc.source, t: doc.target });
        }
        record.i.push(index);
        record.k.push(new Binary(doc.key));
        record.a.push(doc.at!);
        if (doc.at!.greaterThan(record.at)) record.at = doc.at!;
        this.touched?.pending(doc.target, doc.key, doc.at!);
      }
      const reply = await withinShortBound('logging touched documents', (signal) => this.store.db.command({ insert: this.store.touchLog.collectionName, documents: [record], writeConcern: DATA_WRITE_CONCERN }, { signal }));
      terms.acknowledged(reply);
      checkedReply(reply, 'logging touched documents for a recheck');
    }
  }

  /** Entries logged and not compared yet (the downtime prediction counts them with the queue). */
  async size(): Promise<number> {
    const [sum] = await this.store.touchLog.aggregate<{ n: number }>([{ $match: { m: this.store.name } }, { $group: { _id: null, n: { $sum: { $size: '$k' } } } }]).toArray();
    return sum?.n ?? 0;
  }

  /**
   * Keys (destination namespace + _id hex) logged with an event after `applied`: their writes may be on the
   * destination already and not in the source as of `applied`, so no comparison as of `applied` may judge them.
   * Few: the tail logs a batch just before applying it and saves the position just after.
   */
  async inFlux(applied: Timestamp): Promise<Set<string>> {
    const out = new Set<string>();
    for await (const record of this.store.touchLog.find({ m: this.store.name, at: { $gt: applied } }, { promoteBuffers: true })) {
      for (let j = 0; j < record.k.length; j++) {
        if (!record.a[j]!.greaterThan(applied)) continue;
        const slot = documentSlot(record.ns[record.i[j]!]!.t, bytesOf(record.k[j]!));
        if (slot) out.add(slot);
      }
    }
    return out;
  }

  /**
   * Compares the documents of the records the saved position has passed, oldest first, up to STEP_ENTRIES; queues
   * those that differ (a first difference: the queue's recheck confirms it or clears it). False when none was due,
   * or fewer than `worth` asks for.
   */
  async compareDue(source: Parameters<typeof compareDocuments>[0], destination: Parameters<typeof compareDocuments>[1], queue: RecheckQueue, applied: Timestamp, worth?: WorthComparing): Promise<{ compared: number; different: number } | false> {
    const records: TouchLogDoc[] = [];
    let entries = 0;
    for await (const record of this.store.touchLog.find({ m: this.store.name, at: { $lte: applied } }, { sort: { at: 1, _id: 1 }, promoteBuffers: true })) {
      records.push(record);
      entries += record.k.length;
      if (entries >= STEP_ENTRIES) break;
    }
    if (!records.length) return false;
    // The records' ids were made in the tail's process when they were logged (seconds).
    if (worth && entries < worth.entries && Math.min(...records.map((r) => r._id.getTimestamp().getTime())) > Date.now() - worth.olderThanMs) return false;
    // One comparison per document, whatever the number of its touches: the latest is at or before `applied`.
    const docs = new Map<string, TouchedDocument>();
    for (const doc of records.flatMap(entriesOf)) docs.set(documentSlot(doc.target, doc.key)!, doc);
    // Every destination write at or before this majority-committed time, the destination read below sees: the
    // watch skips them. Told before the read, so a write the watch sees meanwhile is either covered or queued.
    if (this.touched) {
      const seen = await lastWriteTime(destination, 'majority');
      for (const doc of docs.values()) this.touched.compared(doc.target, doc.key, doc.at!, seen);
    }
    const found = await compareDocuments(source, destination, [...docs.values()], applied);
    const later = await this.inFlux(applied);
    const different = found.different.filter(({ doc }) => !later.has(documentSlot(doc.target, doc.key)!));
    await queue.flag(different);
    await this.store.touchLog.deleteMany({ _id: { $in: records.map((r) => r._id) } }, MAJORITY);
    return { compared: docs.size, different: different.length };
  }

  /** Moves every logged document into the queue (the cutover's final check, where the sides are frozen). */
  async expandInto(queue: RecheckQueue): Promise<number> {
    let moved = 0;
    for (;;) {
      const records = await this.store.touchLog.find({ m: this.store.name }, { sort: { at: 1, _id: 1 }, limit: 10, promoteBuffers: true }).toArray();
      if (!records.length) return moved;
      const docs = records.flatMap(entriesOf);
      await queue.touch(docs, 0);
      await this.store.touchLog.deleteMany({ _id: { $in: records.map((r: TouchLogDoc) => r._id) } }, MAJORITY);
      moved += docs.length;
    }
  }
}

/** A record's entries as the documents they name, in the order logged. */
function entriesOf(record: TouchLogDoc): TouchedDocument[] {
  return record.k.map((k, j) => ({ source: record.ns[record.i[j]!]!.s, target: record.ns[record.i[j]!]!.t, key: bytesOf(k), at: record.a[j]! }));
}
