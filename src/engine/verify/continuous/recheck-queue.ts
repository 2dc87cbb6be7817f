import { Binary, type AnyBulkWriteOperation, type Document, type Timestamp } from 'mongodb';
import { rawIdKey } from '../../../mongo/raw-bson.js';
import { checkedReply, type StateStore } from '../../state/store.js';
import type { RecheckDoc } from '../../state/types.js';
import { DATA_WRITE_CONCERN } from '../../apply/write-terms.js';

/** Who hears of acknowledged w: 1 writes so that a position save can vouch for them (WriteTerms). */
export interface AcknowledgedWrites {
  acknowledged(reply: Document): void;
}

/**
 * A touched document is queued before the applier writes it (so a crash can only queue it twice, never lose it):
 * it is rechecked once the applier has had time to write it, not at once.
 */
export const TOUCH_DELAY_MS = 1_000;
/** Rechecks in a row that found the sides different, with no touch in between, before a difference counts. */
export const CONFIRM_ATTEMPTS = 2;
const MAX_BACKOFF_MS = 30_000;

export interface TouchedDocument {
  /** Source namespace, db.coll. */
  source: string;
  /** Destination namespace, db.coll. */
  target: string;
  /** The raw documentKey ({_id: ...}). */
  key: Buffer;
  /** Source time of the change event that touched it (absent for a write seen on the destination). */
  at?: Timestamp;
}

/** Hex of the `_id` element's bytes: the queue's identity for a document (the bytes decide, the recheck the rest). */
export function idHex(documentKey: Buffer): string | undefined {
  return rawIdKey(documentKey)?.toString('hex');
}

/** One document across the queue, the touch log and the watch's coverage: destination namespace + `_id` bytes. */
export function documentSlot(target: string, documentKey: Buffer): string | undefined {
  const hex = idHex(documentKey);
  return hex === undefined ? undefined : `${target}\u0000${hex}`;
}

/**
 * The recheck queue: a collection in the state database, so it is bounded by the number of documents touched,
 * never held in memory, and survives any crash. Every write is idempotent (upserts keyed by document).
 */
export class RecheckQueue {
  constructor(private readonly store: StateStore) {}

  /**
   * Queues (or re-arms) documents: a touch resets the attempts, since the document is in flux again. With `terms`
   * (the tail's), the entries are written like the data they stand for: acknowledged by the primary alone, made
   * durable by the next position save or refused with it (apply/write-terms.ts); otherwise each waits for a majority.
   */
  async touch(docs: readonly TouchedDocument[], delayMs = TOUCH_DELAY_MS, terms?: AcknowledgedWrites): Promise<void> {
    await this.write(docs, delayMs, terms, (key, doc, due) => ({
      $set: { ...key, s: doc.source, t: doc.target, key: new Binary(doc.key), due, attempts: 0 },
      $inc: { gen: 1 },
      $unset: { mismatch: '' },
      ...(doc.at ? { $max: { lastEvent: doc.at } } : {}),
    }));
  }

  /**
   * Queues documents found different by a first comparison (a logged touch, see TouchLog): one attempt counted,
   * backing off like a recheck that found a difference, so the next recheck confirms or clears it. Idempotent: a
   * crash that compares the same record again sets the same entry.
   */
  async flag(found: readonly { doc: TouchedDocument; kind: string }[]): Promise<void> {
    const kinds = new Map(found.map(({ doc, kind }) => [doc, kind]));
    await this.write(
      found.map((f) => f.doc),
      TOUCH_DELAY_MS * 2,
      undefined,
      (key, doc, due) => ({
        $set: { ...key, s: doc.source, t: doc.target, key: new Binary(doc.key), due, attempts: 1, mismatch: kinds.get(doc) },
        $inc: { gen: 1 },
        ...(doc.at ? { $max: { lastEvent: doc.at } } : {}),
      }),
    );
  }

  /**
   * Queues documents written on the destination. One already waiting for a recheck is left as it is: that recheck
   * comes later and reads the destination as this write left it. The tail's own writes, which the destination
   * watch sees too, then cost the server no change at all (the feed queued their documents a moment before).
   */
  async ensure(docs: readonly TouchedDocument[], delayMs = TOUCH_DELAY_MS): Promise<void> {
    await this.write(docs, delayMs, undefined, (key, doc, due, now) => {
      const waiting = { $gt: ['$due', now] };
      const keep = (field: string, otherwise: unknown): Document => ({ $cond: [waiting, `$${field}`, otherwise] });
      return [
        {
          $set: {
            m: { $literal: key.m },
            s: { $literal: doc.source },
            t: { $literal: doc.target },
            key: { $literal: new Binary(doc.key) },
            due: keep('due', due),
            attempts: keep('attempts', 0),
            gen: keep('gen', { $add: [{ $ifNull: ['$gen', 0] }, 1] }),
            mismatch: keep('mismatch', '$$REMOVE'),
          },
        },
      ];
    });
  }

  private async write(docs: readonly TouchedDocument[], delayMs: number, terms: AcknowledgedWrites | undefined, update: (key: { m: string }, doc: TouchedDocument, due: Date, now: Date) => Document | Document[]): Promise<void> {
    if (!docs.length) return;
    const m = this.store.name;
    const now = new Date();
    const due = new Date(now.getTime() + delayMs);
    const seen = new Set<string>();
    const statements: { q: Document; u: Document | Document[] }[] = [];
    for (const doc of docs) {
      const k = idHex(doc.key);
      if (!k || seen.has(`${doc.target}\u0000${k}`)) continue;
      seen.add(`${doc.target}\u0000${k}`);
      statements.push({ q: { _id: { m, t: doc.target, k } }, u: update({ m }, doc, due, now) });
    }
    if (!statements.length) return;
    if (terms) {
      const updates = statements.map((s) => ({ ...s, upsert: true }));
      const reply = await this.store.db.command({ update: this.store.recheck.collectionName, updates, ordered: false, writeConcern: DATA_WRITE_CONCERN });
      terms.acknowledged(reply);
      checkedReply(reply, 'queueing documents for a recheck');
      return;
    }
    // Unordered: one entry's write does not wait for another's. Majority: a rolled-back queue entry is a lost recheck.
    const writes = statements.map((s): AnyBulkWriteOperation<RecheckDoc> => ({ updateOne: { filter: s.q, update: s.u, upsert: true } }));
    await this.store.recheck.bulkWrite(writes, { ordered: false, writeConcern: { w: 'majority' } });
  }

  /** Forgets the entries of these destination namespaces (their collections are compared again from scratch). */
  async forget(targets: readonly string[]): Promise<void> {
    if (targets.length) await this.store.recheck.deleteMany({ m: this.store.name, t: { $in: [...targets] } }, { writeConcern: { w: 'majority' } });
  }

  /**
   * Entries due now, oldest due first; or, with `all` (the sides are frozen), every entry in _id order after
   * `afterId`. Read in pages, never all at once.
   */
  async next(limit: number, options: { all?: boolean; afterId?: RecheckDoc['_id'] } = {}): Promise<RecheckDoc[]> {
    const filter: Document = { m: this.store.name };
    if (!options.all) {
      filter.due = { $lte: new Date() };
      return this.store.recheck.find(filter, { sort: { due: 1 }, limit, promoteBuffers: true }).toArray();
    }
    if (options.afterId) filter._id = { $gt: options.afterId };
    return this.store.recheck.find(filter, { sort: { _id: 1 }, limit, promoteBuffers: true }).toArray();
  }

  async size(): Promise<number> {
    return this.store.recheck.countDocuments({ m: this.store.name });
  }

  /** Entries whose difference was confirmed (CONFIRM_ATTEMPTS rechecks in a row). */
  async confirmed(limit = 20): Promise<RecheckDoc[]> {
    return this.store.recheck.find({ m: this.store.name, attempts: { $gte: CONFIRM_ATTEMPTS } }, { limit }).toArray();
  }

  async confirmedCount(): Promise<number> {
    return this.store.recheck.countDocuments({ m: this.store.name, attempts: { $gte: CONFIRM_ATTEMPTS } });
  }

  /**
   * Records what a recheck found: equal entries leave the queue, different ones back off and count an attempt,
   * entries not judged yet (`later`) only wait. All only if the entry was not touched since it was read (same
   * gen): a touch means compare again.
   */
  async settle(equal: readonly RecheckDoc[], different: readonly { entry: RecheckDoc; kind: string }[], later: readonly RecheckDoc[] = []): Promise<void> {
    const writes: AnyBulkWriteOperation<RecheckDoc>[] = equal.map((e) => ({ deleteOne: { filter: { _id: e._id, gen: e.gen } } }));
    const now = Date.now();
    for (const { entry, kind } of different) {
      const backoff = Math.min(MAX_BACKOFF_MS, TOUCH_DELAY_MS * 2 ** entry.attempts);
      writes.push({ updateOne: { filter: { _id: entry._id, gen: entry.gen }, update: { $inc: { attempts: 1 }, $set: { due: new Date(now + backoff), mismatch: kind } } } });
    }
    for (const entry of later) writes.push({ updateOne: { filter: { _id: entry._id, gen: entry.gen }, update: { $set: { due: new Date(now + TOUCH_DELAY_MS) } } } });
    if (writes.length) await this.store.recheck.bulkWrite(writes, { ordered: false, writeConcern: { w: 'majority' } });
  }
}
