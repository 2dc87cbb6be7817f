import { DATA_OPERATIONS, type ChangeEvent } from '../../capture/change-event.js';
import { failpoint } from '../../failpoints.js';
import { ns, type NamespaceFilter } from '../../../namespaces.js';
import type { StateStore } from '../../state/store.js';
import { RecheckQueue, type AcknowledgedWrites, type TouchedDocument } from './recheck-queue.js';
import { TouchLog } from './touch-log.js';
import type { TouchedKeys } from './touched-keys.js';
import type { ComparisonFrontier } from './frontier.js';

/**
 * What the tail tells about each batch before applying it (see tail.ts); what the observer writes is covered by
 * the tail's next position save, like the batch's data (`terms`).
 */
export interface ChangeObserver {
  observe(events: readonly ChangeEvent[], terms: AcknowledgedWrites): Promise<void>;
}

/** DDL that changes which documents a namespace holds: its comparison starts again from scratch. */
const DATA_DDL = new Set(['drop', 'rename', 'dropDatabase', 'create']);

/**
 * Feeds continuous verification from the source change stream the tail already reads: every document a batch
 * touches is logged before the batch is applied (one record per batch, see touch-log.ts), so a crash at any point
 * logs it again, never loses it; except those a partition comparison has still to read (see frontier.ts), which
 * it reads and queues itself if they differ. DDL that moves or removes data resets the comparison of the
 * namespaces it names (the verifier plans them again) and forgets their queued documents, whose namespace no
 * longer means the same collection.
 */
export class RecheckFeed implements ChangeObserver {
  private readonly queue: RecheckQueue;
  private readonly log: TouchLog;

  constructor(private readonly store: StateStore, private readonly filter: NamespaceFilter, private readonly frontier?: ComparisonFrontier, touched?: TouchedKeys) {
    this.queue = new RecheckQueue(store);
    this.log = new TouchLog(store, touched);
  }

  async observe(events: readonly ChangeEvent[], terms: AcknowledgedWrites): Promise<void> {
    const docs: TouchedDocument[] = [];
    const namespaces = new Set<string>();
    const databases = new Set<string>();
    for (const event of events) {
      const coll = event.ns.coll;
      if (DATA_OPERATIONS.has(event.type)) {
        if (!coll || !event.key) continue;
        const source = ns(event.ns.db, coll);
        // Decided now, before any await: the partition step that will read it has not begun (see frontier.ts).
        if (this.frontier?.willCompare(source, event.key)) continue;
        const target = this.filter.target(event.ns.db, coll);
        docs.push({ source, target: ns(target.db, target.coll), key: event.key, at: event.clusterTime });
      } else if (DATA_DDL.has(event.type)) {
        if (event.type === 'dropDatabase') databases.add(event.ns.db);
        if (coll) namespaces.add(ns(event.ns.db, coll));
        if (event.to) namespaces.add(ns(event.to.db, event.to.coll));
      }
    }
    if (docs.length) await this.log.append(docs, terms);
    failpoint('verify:feed-queued');
    if (namespaces.size || databases.size) await this.reset([...namespaces], [...databases]);
  }

  private async reset(sources: string[], databases: string[]): Promise<void> {
    const included = sources.filter((s) => {
      const dot = s.indexOf('.');
      return this.filter.includes(s.slice(0, dot), s.slice(dot + 1));
    });
    // Forgotten before the partitions go: what is left to a partition about to be planned again stays covered.
    this.frontier?.forget(included, databases);
    const escaped = databases.map((d) => `^${d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.`);
    const bySource = [{ source: { $in: included } }, ...escaped.map((re) => ({ source: { $regex: re } }))];
    const targets = included.map((s) => {
      const dot = s.indexOf('.');
      const t = this.filter.target(s.slice(0, dot), s.slice(dot + 1));
      return ns(t.db, t.coll);
    });
    await this.store.verifyPartitions.deleteMany({ migration: this.store.name, $or: bySource }, { writeConcern: { w: 'majority' } });
    await this.queue.forget(targets);
    if (escaped.length) await this.store.recheck.deleteMany({ m: this.store.name, $or: escaped.map((re) => ({ s: { $regex: re } })) }, { writeConcern: { w: 'majority' } });
  }
}
