import { setTimeout as sleep } from 'node:timers/promises';
import { MongoServerError, ObjectId, type Collection, type Document, type MongoClient } from 'mongodb';
import type { ProbeTarget } from './lag-probe.js';
import { money } from './seed.js';

/**
 * The demo's application: a live writer inserting, updating and deleting at a modest rate on the source
 * while it is copied and tailed. It remembers what every acknowledged write left behind (a document at a
 * given revision, or no document), so that after the cutover the destination can be checked for every one:
 * no acknowledged write may be lost. When the cutover blocks the source's writes, the rejected write is
 * expected: the writer stops, as an application would before moving to the new cluster.
 */

export interface WriterOptions {
  /** Operations per second across all workers. */
  opsPerSecond?: number;
  /** Concurrent workers; each owns its own documents, so per-document order is that of one worker. */
  workers?: number;
  /** Seeded order and contact ids the writer may update or delete. */
  orderIds: ObjectId[];
  contactIds: ObjectId[];
}

export interface WriterStats {
  acknowledged: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** Writes refused by the source's user write block (the cutover has started): expected, never applied. */
  rejectedByWriteBlock: number;
  /** Other failures: the outcome is unknown, so those documents are left out of the check. */
  failed: number;
  lastError?: string;
  /** When the first write was refused by the write block (ISO), if one was. */
  blockedAt?: string;
}

/** Where one document should be after every acknowledged write: at this revision, or gone (null). */
interface Expectation {
  db: string;
  coll: string;
  id: ObjectId;
  rev: number | null;
}

export interface AcknowledgedCheck {
  /** Documents whose last acknowledged write was checked on the destination. */
  checked: number;
  /** Those found as the last acknowledged write left them. */
  asExpected: number;
  /** Up to 20 that were not: missing, stale, or present though deleted. */
  lost: { namespace: string; id: string; expected: string; found: string }[];
  lostCount: number;
}

/** UserWritesBlocked: what the source answers while setUserWriteBlockMode is on. */
const USER_WRITES_BLOCKED = 371;

export function isWriteBlocked(error: unknown): boolean {
  return error instanceof MongoServerError && (error.code === USER_WRITES_BLOCKED || error.codeName === 'UserWritesBlocked');
}

const STATUSES = ['paid', 'shipped', 'delivered', 'returned'];

export class LiveWriter {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private readonly expected = new Map<string, Expectation>();
  /** Keys whose outcome is unknown (a write failed ambiguously): not checked. */
  private readonly unknown = new Set<string>();
  readonly stats: WriterStats = { acknowledged: 0, inserts: 0, updates: 0, deletes: 0, rejectedByWriteBlock: 0, failed: 0 };
  /** The newest acknowledged insert, for the lag probe. */
  lastInsert: ProbeTarget | undefined;

  constructor(private readonly client: MongoClient, private readonly options: WriterOptions) {}

  get running(): boolean {
    return this.loops.length > 0 && !this.stopping;
  }

  start(): void {
    const workers = this.options.workers ?? 2;
    for (let w = 0; w < workers; w++) this.loops.push(this.loop(w, workers));
  }

  /** Stops the workers (after their current write) and returns the counts. */
  async stop(): Promise<WriterStats> {
    this.stopping = true;
    await Promise.all(this.loops);
    return { ...this.stats };
  }

  /** Resolves once the writer has stopped by itself (its writes were refused by the write block). */
  async stopped(): Promise<WriterStats> {
    await Promise.all(this.loops);
    return { ...this.stats };
  }

  private async loop(worker: number, workers: number): Promise<void> {
    const interval = (workers * 1000) / (this.options.opsPerSecond ?? 40);
    // Each worker owns every workers-th seeded id and the documents it inserts: no two workers race on one document.
    const orders = this.options.orderIds.filter((_, i) => i % workers === worker);
    const contacts = this.options.contactIds.filter((_, i) => i % workers === worker);
    let n = worker;
    while (!this.stopping) {
      const tick = Date.now();
      try {
        await this.step(n++, orders, contacts);
      } catch (error) {
        if (isWriteBlocked(error)) {
          this.stats.rejectedByWriteBlock++;
          this.stats.blockedAt ??= new Date().toISOString();
          // The application's cue to stop writing here: every worker stops.
          this.stopping = true;
          break;
        }
        this.stats.failed++;
        this.stats.lastError = error instanceof Error ? error.message : String(error);
      }
      const wait = interval - (Date.now() - tick);
      if (wait > 0 && !this.stopping) await sleep(wait);
    }
  }

  /** One operation: a fixed mix of inserts (50%), updates (30%) and deletes (10%) on four collections. */
  private async step(n: number, orders: ObjectId[], contacts: ObjectId[]): Promise<void> {
    const rev = ++this.seq;
    switch (n % 10) {
      case 0:
      case 1:
      case 2: {
        const id = new ObjectId();
        const cents = 500 + (rev % 20_000);
        await this.track('shop', 'orders', id, rev, (c) => c.insertOne({ _id: id, customerId: new ObjectId(), status: 'pending', items: [{ sku: 'SKU-000001', qty: 1, price: money(cents) }], total: money(cents), currency: 'EUR', createdAt: new Date(), rev }).then(() => 'insert'));
        orders.push(id);
        return;
      }
      case 3:
      case 4:
      case 5: {
        const id = this.pickLive('shop', 'orders', orders, n);
        if (!id) return;
        await this.track('shop', 'orders', id, rev, (c) => c.updateOne({ _id: id }, { $set: { status: STATUSES[rev % STATUSES.length], updatedAt: new Date(), rev } }).then((r) => (r.matchedCount ? 'update' : 'none')));
        return;
      }
      case 6: {
        const id = new ObjectId();
        await this.track('analytics', 'events', id, rev, (c) => c.insertOne({ _id: id, type: 'checkout', at: new Date(), durationMs: rev / 10, rev }).then(() => 'insert'));
        return;
      }
      case 7: {
        const id = contacts[n % contacts.length];
        if (!id) return;
        await this.track('crm', 'contacts', id, rev, (c) => c.updateOne({ _id: id }, { $set: { lastContactAt: new Date(), rev } }).then((r) => (r.matchedCount ? 'update' : 'none')));
        return;
      }
      case 8: {
        const id = new ObjectId();
        await this.track('analytics', 'audit_log', id, rev, (c) => c.insertOne({ _id: id, actor: 'demo-writer', action: 'order.touch', at: new Date(), rev }).then(() => 'insert'));
        return;
      }
      default: {
        const id = this.pickLive('shop', 'orders', orders, n * 7);
        if (!id) return;
        await this.track('shop', 'orders', id, null, (c) => c.deleteOne({ _id: id }).then((r) => (r.deletedCount ? 'delete' : 'none')));
      }
    }
  }

  /** A document of this worker's that is not deleted, or undefined. */
  private pickLive(db: string, coll: string, ids: ObjectId[], n: number): ObjectId | undefined {
    for (let attempt = 0; attempt < 5 && ids.length; attempt++) {
      const id = ids[(n + attempt * 31) % ids.length]!;
      if (this.expected.get(key(db, coll, id))?.rev !== null) return id;
    }
    return undefined;
  }

  /** Runs one write and records what it left behind once acknowledged. */
  private async track(db: string, coll: string, id: ObjectId, rev: number | null, write: (c: Collection<Document>) => Promise<'insert' | 'update' | 'delete' | 'none'>): Promise<void> {
    const k = key(db, coll, id);
    let result: 'insert' | 'update' | 'delete' | 'none';
    try {
      result = await write(this.client.db(db).collection(coll));
    } catch (error) {
      // Refused by the write block: certainly not applied, the expectation stands. Otherwise: unknown.
      if (!isWriteBlocked(error)) this.unknown.add(k);
      throw error;
    }
    if (result === 'none') return;
    this.stats.acknowledged++;
    const counter = ({ insert: 'inserts', update: 'updates', delete: 'deletes' } as const)[result];
    this.stats[counter]++;
    this.expected.set(k, { db, coll, id, rev });
    if (result === 'insert') this.lastInsert = { db, coll, id, acknowledgedAt: Date.now() };
  }

  /**
   * Reads every document an acknowledged write touched from the destination (through `target`, the
   * migration's renames) and compares it with what that write left on the source.
   */
  async checkDestination(destination: MongoClient, target: (db: string, coll: string) => { db: string; coll: string }): Promise<AcknowledgedCheck> {
    const byNamespace = new Map<string, Expectation[]>();
    for (const [k, e] of this.expected) {
      if (this.unknown.has(k)) continue;
      const ns = `${e.db}.${e.coll}`;
      byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), e]);
    }
    const result: AcknowledgedCheck = { checked: 0, asExpected: 0, lost: [], lostCount: 0 };
    for (const [ns, expectations] of byNamespace) {
      const first = expectations[0]!;
      const t = target(first.db, first.coll);
      for (let i = 0; i < expectations.length; i += 1000) {
        const chunk = expectations.slice(i, i + 1000);
        const found = new Map<string, unknown>();
        const docs = await destination.db(t.db).collection(t.coll).find({ _id: { $in: chunk.map((e) => e.id) } }, { projection: { rev: 1 } }).toArray();
        for (const d of docs) found.set(String(d._id), d.rev);
        for (const e of chunk) {
          result.checked++;
          const present = found.has(e.id.toHexString());
          const rev = found.get(e.id.toHexString());
          const ok = e.rev === null ? !present : present && rev === e.rev;
          if (ok) {
            result.asExpected++;
            continue;
          }
          result.lostCount++;
          if (result.lost.length < 20) {
            result.lost.push({ namespace: `${ns} → ${t.db}.${t.coll}`, id: e.id.toHexString(), expected: e.rev === null ? 'deleted' : `rev ${e.rev}`, found: present ? `rev ${String(rev ?? 'none')}` : 'missing' });
          }
        }
      }
    }
    return result;
  }
}

function key(db: string, coll: string, id: ObjectId): string {
  return `${db}.${coll}|${id.toHexString()}`;
}
