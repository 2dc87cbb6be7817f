import type { MongoClient } from 'mongodb';
import type { Logger } from '../../log.js';
import { DATA_OPERATIONS, type ChangeEvent } from '../capture/change-event.js';
import { failpoint, pausePoint } from '../failpoints.js';
import type { Namespace, NamespaceFilter } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import { applyDdl } from './ddl.js';
import { sameDocumentKey } from './id-key.js';
import { runLimited } from './run-limited.js';
import { orderedJob, unorderedJobs, writeInOrder, type Destination, type Write, type WriteJob } from './raw-writes.js';
import { WriteTerms } from './write-terms.js';
import { WriterLimit } from './writer-limit.js';
import { CurrentDocuments, type CurrentDocument } from './current-documents.js';
import { lookupSourceDocument, type ReadView } from './source-lookup.js';
import { batchSourceOfTarget, withDuplicateKeyResolution } from './resolve-duplicates.js';
import { TargetKinds } from './target-kinds.js';
import { UnresolvedDocuments, type SavedUnresolved, type UnresolvedDocument } from './unresolved.js';

/**
 * Statements per write command: a batch is cut into about one command per writer, so that every writer has
 * work (the destination applies commands on several threads), within bounds that keep a command useful and small.
 */
function chunkFor(statements: number, writers: number): number {
  return Math.min(MAX_CHUNK, Math.max(50, Math.ceil(statements / writers)));
}

/** Statements per ordered command (capped, collated, or one document's writes in order). */
const MAX_CHUNK = 500;

export interface ApplierContext {
  /** Where documents are read from (see ReadView: the present, or a rehearsal's frozen time). */
  source: ReadView;
  destination: MongoClient;
  filter: NamespaceFilter;
  store: StateStore;
  log: Logger;
  concurrency: number;
  assertLease: () => void;
  /** Documents still open when the position was last saved. */
  unresolved?: SavedUnresolved[];
}

/** The current source documents of a batch's events, read before its writes (see Applier.prepare). */
export type Prepared = Map<ChangeEvent, CurrentDocument>;

/**
 * Saves the position just after `last` (everything up to it is applied), with what is still open; the save makes
 * the writes it covers durable or refuses (it goes through Applier.terms).
 */
export type Checkpoint = (last: ChangeEvent, unresolved: UnresolvedDocument[]) => Promise<void>;

/**
 * Applies change events to the destination so that it converges from any copied version of a document:
 * insert/replace write the event's full document, update writes the looked-up current document, delete
 * deletes; every document is the source's bytes. An update whose lookup found nothing is left open until the
 * stream says why (see UnresolvedDocuments).
 *
 * Within a run of data events only the last operation per document matters, so each document gets one write
 * and different documents are written in parallel. "Per document" is the server's equality, not the bytes:
 * operations whose _ids the server could take for one document stay in stream order, and so does everything
 * in a capped collection (insertion order is its content) or one with a collation (its own string equality).
 *
 * DDL is a barrier, with the position saved on both sides of it: a crash then replays at most that one DDL
 * step against its own result (each step is idempotent alone), and never replays data from before a rename
 * or drop against the collections it left behind.
 */
export class Applier {
  readonly unresolved: UnresolvedDocuments;
  /** The terms of this applier's w: 1 writes: every position that covers them is saved through it. */
  readonly terms = new WriteTerms();
  private readonly targets: TargetKinds;
  private readonly current: CurrentDocuments;
  private readonly destination: Destination;
  /** Write commands in flight (see writer-limit.ts); their size stays set by ctx.concurrency. */
  readonly writers: WriterLimit;
  applied = 0;

  constructor(private readonly ctx: ApplierContext) {
    this.unresolved = new UnresolvedDocuments(ctx.unresolved);
    this.writers = new WriterLimit(ctx.concurrency);
    this.destination = { client: ctx.destination, acknowledged: (reply) => this.terms.acknowledged(reply), timed: (kind, statements, ms) => this.writers.record(kind, statements, ms) };
    this.targets = new TargetKinds(ctx.destination);
    this.current = new CurrentDocuments(ctx.source, ctx.concurrency);
  }

  /**
   * Reads from the source the current documents the events will need (see current-documents.ts). It may run
   * ahead of the writes of earlier batches: any read after an event is as good as the stream's own lookup.
   */
  prepare(events: readonly ChangeEvent[]): Promise<Prepared> {
    return this.current.read(events);
  }

  async apply(events: ChangeEvent[], checkpoint: Checkpoint, prepared?: Prepared): Promise<void> {
    let segment: ChangeEvent[] = [];
    for (const event of events) {
      if (DATA_OPERATIONS.has(event.type)) {
        segment.push(event);
        continue;
      }
      if (segment.length) {
        await this.applyData(segment, prepared);
        failpoint('apply:data-applied');
        await checkpoint(segment[segment.length - 1]!, this.unresolved.toState());
        segment = [];
      }
      this.ctx.assertLease();
      failpoint('apply:ddl-before');
      await applyDdl(this.ctx, event);
      this.targets.forget();
      await this.afterDdl(event);
      failpoint('apply:ddl-applied');
      await checkpoint(event, this.unresolved.toState());
    }
    await this.applyData(segment, prepared);
    this.applied += events.length;
  }

  private async applyData(events: ChangeEvent[], prepared: Prepared | undefined): Promise<void> {
    let rest = events;
    let current = prepared ?? (await this.prepare(rest));
    while (rest.length) {
      // The documents read may cover only a prefix of the events (see CurrentDocuments): write it, read on.
      let cut = rest.findIndex((e) => e.refetch && !current.has(e));
      if (cut === -1) cut = rest.length;
      if (cut > 0) {
        await this.writeData(rest.slice(0, cut), current);
        rest = rest.slice(cut);
      }
      if (rest.length) current = await this.prepare(rest);
    }
  }

  private async writeData(events: ChangeEvent[], current: Prepared): Promise<void> {
    const byTarget = new Map<string, { target: Namespace; writes: { id: unknown; write: Write; insert: boolean }[] }>();
    for (const event of events) {
      const write = this.toWrite(event, current.get(event));
      if (!write) continue;
      const target = this.ctx.filter.target(event.ns.db, event.ns.coll!);
      const name = `${target.db}.${target.coll}`;
      let entry = byTarget.get(name);
      if (!entry) byTarget.set(name, (entry = { target, writes: [] }));
      entry.writes.push({ id: event.id, write, insert: event.type === 'insert' });
    }
    const jobs: { target: Namespace; job: WriteJob }[] = [];
    for (const { target, writes } of byTarget.values()) {
      // Created once, before any parallel write: concurrent implicit creation of one namespace is a race.
      const kind = await this.targets.of(target);
      if (kind.ordered) {
        const inOrder = kind.capped ? cappedOrder(writes) : writes.map((w) => w.write);
        jobs.push({ target, job: orderedJob(this.destination, target, inOrder, MAX_CHUNK) });
        continue;
      }
      const groups = new Map<string, Write[]>();
      for (const { id, write } of writes) {
        const key = sameDocumentKey(id);
        const group = groups.get(key);
        if (group) group.push(write);
        else groups.set(key, [write]);
      }
      const single: Write[] = [];
      for (const group of groups.values()) {
        const last = group[group.length - 1]!;
        if (group.every((w) => w.key.equals(last.key))) single.push(last);
        else jobs.push({ target, job: orderedJob(this.destination, target, group, MAX_CHUNK) });
      }
      jobs.push(...unorderedJobs(this.destination, target, single, chunkFor(single.length, this.ctx.concurrency)).map((job) => ({ target, job })));
    }
    this.ctx.assertLease();
    await pausePoint('apply:before-writes');
    const sourceOf = batchSourceOfTarget(events, this.ctx.filter);
    await runLimited(jobs.map(({ target, job }) => () => withDuplicateKeyResolution(this.ctx.source, this.destination, sourceOf, (settled) => job((write) => settled(target, write.key)))), this.writers.current());
  }

  /** The write an event asks for, or none when its document's state is not known yet. */
  private toWrite(event: ChangeEvent, current: CurrentDocument | undefined): Write | undefined {
    const key = event.key!;
    if (event.type === 'delete') {
      this.unresolved.settle(event);
      return { kind: 'del', key };
    }
    // Without a document of its own (an update, or one too large to store) the event takes the source's current one.
    const doc = event.refetch ? (current === 'moved' ? null : (current ?? null)) : event.fullDocument;
    if (!doc) {
      this.unresolved.add(event);
      return undefined;
    }
    this.unresolved.settle(event);
    return { kind: 'put', key, doc };
  }

  /** What a DDL step settles among the open documents, or makes readable again under a new name. */
  private async afterDdl(event: ChangeEvent): Promise<void> {
    if (event.type === 'dropDatabase') this.unresolved.settleDatabase(event.ns.db);
    if (!event.uuid) return;
    if (event.type === 'drop') this.unresolved.settleCollection(event.uuid);
    if (event.type !== 'rename' || !event.to) return;
    const to = event.to;
    for (const entry of this.unresolved.ofCollection(event.uuid)) {
      this.unresolved.moved(entry, to);
      if (!this.ctx.filter.includes(to.db, to.coll)) {
        this.unresolved.remove(entry); // renamed out of the migration: its target is gone
        continue;
      }
      // A rename across databases gives the collection a new UUID, which no event names: read it by name.
      const acrossDatabases = to.db !== event.ns.db;
      const doc = await lookupSourceDocument(this.ctx.source, to, acrossDatabases ? undefined : entry.uuid, entry.key);
      if ((doc === null || doc === 'moved') && !acrossDatabases) continue; // a later delete, drop or rename tells the rest
      if (doc === null || doc === 'moved') {
        // Not there under its new name either: what follows can no longer be matched to it by UUID.
        this.ctx.log.warn({ namespace: `${to.db}.${to.coll}` }, 'an updated document moved by a rename across databases could not be read back; verify will compare it');
        this.unresolved.remove(entry);
        continue;
      }
      const target = this.ctx.filter.target(to.db, to.coll);
      await writeInOrder(this.destination, target, [{ kind: 'put', key: entry.key, doc }], 1);
      this.unresolved.remove(entry);
    }
  }
}

/**
 * The writes of a capped collection, in an order that leaves it as the source left it, in few commands.
 * Inserts keep their order (it is the collection's content). From MongoDB 7.0 every document the source
 * evicts arrives as a delete event between the inserts; a delete of a document not inserted in the same run
 * is moved before that run's inserts: the destination then removes exactly what the source removed and
 * evicts nothing of its own. Anything else (an update, a delete of a document just inserted) closes the run.
 */
function cappedOrder(writes: { id: unknown; write: Write; insert: boolean }[]): Write[] {
  const out: Write[] = [];
  let deletes: Write[] = [];
  let inserts: Write[] = [];
  const inserted = new Set<string>();
  const close = (): void => {
    out.push(...deletes, ...inserts);
    deletes = [];
    inserts = [];
    inserted.clear();
  };
  for (const { id, write, insert } of writes) {
    const key = sameDocumentKey(id);
    if (insert && write.kind === 'put') {
      inserts.push({ ...write, kind: 'ins' });
      inserted.add(key);
    } else if (write.kind === 'del' && !inserted.has(key)) {
      deletes.push(write);
    } else {
      close();
      out.push(write);
    }
  }
  close();
  return out;
}
