import type { MongoClient, Timestamp } from 'mongodb';
import type { Logger } from '../../log.js';
import { DATA_OPERATIONS, type ChangeEvent } from '../capture/change-event.js';
import { failpoint, pausePoint } from '../failpoints.js';
import type { Namespace, NamespaceFilter } from '../../namespaces.js';
import type { StateStore } from '../state/store.js';
import { applyDdl } from './ddl.js';
import { eventDocumentKey } from './id-key.js';
import { runLimited } from './run-limited.js';
import { hasDollarField } from '../../mongo/raw-bson.js';
import { DeltaMissed, orderedJob, unorderedJobs, type DeltaWrite, type Destination, type Write, type WriteJob } from './raw-writes.js';
import { WriteTerms } from './write-terms.js';
import { setWriteJobs } from './set-writes.js';
import { WriterLimit } from './writer-limit.js';
import { CurrentDocuments, type CurrentDocument, type Lookups } from './current-documents.js';
import { lookupSourceDocument, type ReadView } from './source-lookup.js';
import { lastWriteTime } from '../../mongo/introspection.js';
import type { ReadHorizon } from './read-horizon.js';
import { diffStatements, type DiffStatement } from './update-diff.js';
import { batchSourceOfTarget, withDuplicateKeyResolution, writeResolvingDuplicates } from './resolve-duplicates.js';
import { TargetKinds, type TargetKind } from './target-kinds.js';
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
  /**
   * What the destination is known to hold exactly (see read-horizon.ts): every source read this applier writes is
   * covered there, and where it says so an update applies its own delta instead of its looked-up document.
   */
  horizon: ReadHorizon;
  /** Whether updates may apply their deltas (a replay of what the copy overlapped never may). */
  deltas: boolean;
  /**
   * Whether an insert event's document, written alone, is sent as an insert (see raw-writes.ts insertOrPut): in a
   * tail it is mostly new to the destination; in a replay mostly one the copy already read.
   */
  inserts: boolean;
}

/** The current source documents of a batch's events, read before its writes (see Applier.prepare). */
export type Prepared = Lookups;

/**
 * A document updated more often than this in one batch is read once instead (a hot document: one lookup
 * and one write, rather than a chain of statements the destination must run one after the other).
 */
const HOT_DOCUMENT_UPDATES = 4;

/**
 * Saves the position just after `last` (everything up to it is applied), with what is still open; the save makes
 * the writes it covers durable or refuses (it goes through Applier.terms).
 */
export type Checkpoint = (last: ChangeEvent, unresolved: UnresolvedDocument[]) => Promise<void>;

/**
 * Applies change events to the destination so that it converges from any copied version of a document:
 * insert/replace write the event's full document, update writes the looked-up current document, delete
 * deletes; every document is the source's bytes. An update whose lookup found nothing is left open until the
 * stream says why (see UnresolvedDocuments). Where the destination is known to hold an update's exact
 * pre-image (read-horizon.ts), the update applies its own delta instead (update-diff.ts): no lookup, and the
 * same bytes; a delta that finds its document otherwise falls back to the lookup.
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
  /** Updates applied from their delta, and deltas that fell back to a lookup (for the logs and bench/). */
  readonly deltas = { applied: 0, missed: 0 };
  /** Documents written several to a statement (deletes and updates of a batch job: set-writes.ts), in how many statements. */
  readonly grouped = { documents: 0, statements: 0 };
  /**
   * The delta statements of update events, translated once (undefined: not expressible), from their first planning
   * (read ahead) until they are applied. A Map, emptied as batches are applied: a WeakMap cost three times as much
   * per lookup here, and its entries are ephemerons the garbage collector must trace (bench/README.md).
   */
  private readonly translated = new Map<ChangeEvent, DiffStatement[] | undefined>();

  constructor(private readonly ctx: ApplierContext) {
    this.unresolved = new UnresolvedDocuments(ctx.unresolved);
    this.writers = new WriterLimit(ctx.concurrency);
    this.destination = {
      client: ctx.destination,
      acknowledged: (reply) => this.terms.acknowledged(reply),
      timed: (kind, statements, ms) => this.writers.record(kind, statements, ms),
      grouped: (documents, statements) => {
        this.grouped.documents += documents;
        this.grouped.statements += statements;
      },
    };
    this.targets = new TargetKinds(ctx.destination);
    this.current = new CurrentDocuments(ctx.source, ctx.concurrency);
  }

  /**
   * Reads from the source the current documents the events will need (see current-documents.ts). It may run
   * ahead of the writes of earlier batches: any read after an event is as good as the stream's own lookup.
   * `budget` bounds the bytes of documents held (see CurrentDocuments.read): what is past it is read at the writes.
   */
  async prepare(events: readonly ChangeEvent[], budget?: number): Promise<Prepared> {
    // Collections not written yet (the first batches) are peeked at: a guess, planned again at the writes.
    const guessed = new Map<string, TargetKind | undefined>();
    for (const target of this.deltaTargets(events)) if (!this.targets.cached(target)) guessed.set(`${target.db}.${target.coll}`, await this.targets.peek(target));
    const kind = (target: Namespace): TargetKind | undefined => this.targets.cached(target) ?? guessed.get(`${target.db}.${target.coll}`);
    const deltas = this.deltaPlan(events, kind);
    return this.current.read(events.filter((e) => e.refetch && !deltas.has(e)), budget);
  }

  /**
   * The update events of a batch that apply their delta: the destination holds the document's pre-image (read
   * horizon), in a collection written in any order, and the delta is expressible. A document any of whose
   * updates must be read (or that is hot) is read for all of them: the read is later than all of the batch.
   */
  private deltaPlan(events: readonly ChangeEvent[], kind: (target: Namespace) => TargetKind | undefined = (target) => this.targets.cached(target)): Map<ChangeEvent, DiffStatement[]> {
    const plan = new Map<ChangeEvent, DiffStatement[]>();
    if (!this.ctx.deltas) return plan;
    // By collection, then by document: no key string made per event, one entry per document and none per event.
    const perCollection = new Map<string, Map<string, { updates: number; read: boolean }>>();
    const entries: ({ updates: number; read: boolean } | undefined)[] = new Array(events.length);
    const statements: (DiffStatement[] | undefined)[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (!event.refetch || !event.uuid || event.id === undefined) continue;
      let perDocument = perCollection.get(event.uuid);
      if (!perDocument) perCollection.set(event.uuid, (perDocument = new Map()));
      const name = eventDocumentKey(event);
      let entry = perDocument.get(name);
      if (!entry) perDocument.set(name, (entry = { updates: 0, read: false }));
      entries[i] = entry;
      statements[i] = this.deltaOf(event, kind);
      if (statements[i]) entry.updates++;
      else entry.read = true;
    }
    for (let i = 0; i < events.length; i++) {
      const entry = entries[i];
      if (!entry || entry.read || entry.updates > HOT_DOCUMENT_UPDATES) continue;
      plan.set(events[i]!, statements[i]!);
    }
    return plan;
  }

  /** The event's delta statements when it may apply them now, else undefined (it takes the whole document). */
  private deltaOf(event: ChangeEvent, kindOf: (target: Namespace) => TargetKind | undefined): DiffStatement[] | undefined {
    if (event.type !== 'update' || !event.delta) return undefined;
    // A collection the destination does not have (or not read since the last DDL) takes the lookup.
    const kind = kindOf(this.ctx.filter.target(event.ns.db, event.ns.coll!));
    if (!kind || kind.ordered) return undefined;
    if (!this.ctx.horizon.holdsPreImage(event.uuid!, eventDocumentKey(event), event.clusterTime)) return undefined;
    if (!this.translated.has(event)) this.translated.set(event, diffStatements(event.delta));
    return this.translated.get(event);
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
    for (const event of events) this.translated.delete(event);
  }

  private async applyData(events: ChangeEvent[], prepared: Prepared | undefined): Promise<void> {
    if (!events.length) return;
    await this.readKinds(events);
    let rest = events;
    let current = prepared ?? (await this.prepare(rest));
    while (rest.length) {
      // Planned again now: a document read since the batch was prepared (a delta that missed, a DDL step) is read
      // for this batch too.
      const deltas = this.deltaPlan(rest);
      // The documents read may cover only a prefix of the events (see CurrentDocuments): write it, read on.
      let cut = rest.findIndex((e) => e.refetch && !deltas.has(e) && !current.docs.has(e));
      if (cut === -1) cut = rest.length;
      if (cut > 0) {
        await this.writeData(rest.slice(0, cut), current, deltas);
        rest = rest.slice(cut);
      }
      if (rest.length) current = await this.prepare(rest);
    }
    this.ctx.horizon.passed(events[events.length - 1]!.clusterTime);
  }

  /** Reads the kind of every existing target of updates with a delta, so that deltaPlan can decide. */
  private async readKinds(events: readonly ChangeEvent[]): Promise<void> {
    for (const target of this.deltaTargets(events)) if (!this.targets.cached(target)) await this.targets.existing(target);
  }

  /** The targets of the updates that carry a delta. */
  private deltaTargets(events: readonly ChangeEvent[]): Namespace[] {
    if (!this.ctx.deltas) return [];
    const targets = new Map<string, Namespace>();
    // Each source namespace once: a batch job's thousands of updates name a few.
    const seen = new Map<string, Set<string>>();
    for (const e of events) {
      if (e.type !== 'update' || !e.delta) continue;
      let colls = seen.get(e.ns.db);
      if (!colls) seen.set(e.ns.db, (colls = new Set()));
      if (colls.has(e.ns.coll!)) continue;
      colls.add(e.ns.coll!);
      const target = this.ctx.filter.target(e.ns.db, e.ns.coll!);
      targets.set(`${target.db}.${target.coll}`, target);
    }
    return [...targets.values()];
  }

  private async writeData(events: ChangeEvent[], current: Prepared, deltas: Map<ChangeEvent, DiffStatement[]>): Promise<void> {
    await this.coverReads(events.filter((e) => current.docs.has(e) && !deltas.has(e)), current.readAt);
    const byTarget = new Map<string, { target: Namespace; writes: { key: string; write: Write; insert: boolean }[] }>();
    for (const event of events) {
      const statements = deltas.get(event);
      const write = statements ? this.deltaWrite(event, statements) : this.toWrite(event, current.docs.get(event));
      if (!write) continue;
      const target = this.ctx.filter.target(event.ns.db, event.ns.coll!);
      const name = `${target.db}.${target.coll}`;
      let entry = byTarget.get(name);
      if (!entry) byTarget.set(name, (entry = { target, writes: [] }));
      entry.writes.push({ key: eventDocumentKey(event), write, insert: event.type === 'insert' });
    }
    const jobs: { target: Namespace; job: WriteJob }[] = [];
    // Deltas a later whole state of their document in this batch replaces: never written, so never read back below.
    const superseded = new Set<ChangeEvent>();
    for (const { target, writes } of byTarget.values()) {
      // Created once, before any parallel write: concurrent implicit creation of one namespace is a race.
      const kind = await this.targets.of(target);
      if (kind.ordered) {
        const inOrder = kind.capped ? cappedOrder(writes) : writes.map((w) => w.write);
        jobs.push({ target, job: orderedJob(this.destination, target, inOrder, MAX_CHUNK) });
        continue;
      }
      const groups = new Map<string, Write[]>();
      // Whole documents from insert events: written alone (one write of their document), they go as inserts.
      const inserted = new Set<Write>();
      for (const { key, write, insert } of writes) {
        if (insert && this.ctx.inserts && write.kind === 'put') inserted.add(write);
        const group = groups.get(key);
        if (group) group.push(write);
        else groups.set(key, [write]);
      }
      const single: Write[] = [];
      // Deltas of several statements (fields appended): each document's in order, so in ordered commands, many
      // documents to a command (a statement refused stops the rest of its command, which is then written again).
      const multiple: Write[] = [];
      for (const group of groups.values()) {
        const last = group[group.length - 1]!;
        if (!group.every((w) => w.key.equals(last.key))) {
          jobs.push({ target, job: orderedJob(this.destination, target, group, MAX_CHUNK) });
          continue;
        }
        // One document: its last whole state (put or delete) and the deltas after it, in order.
        let from = group.length - 1;
        while (from > 0 && group[from]!.kind === 'upd') from--;
        const run = group[from]!.kind === 'upd' ? group : group.slice(from);
        for (const write of group.slice(0, group.length - run.length)) if (write.kind === 'upd') superseded.add(write.origin as ChangeEvent);
        if (run.length > 1) jobs.push({ target, job: orderedJob(this.destination, target, run, MAX_CHUNK) });
        else if (run[0]!.kind === 'upd' && run[0]!.statements.length > 1) multiple.push(run[0]!);
        else single.push(asInsert(run[0]!, inserted));
      }
      // Deletes and update deltas of many documents, several documents to a statement (see set-writes.ts).
      const sets = setWriteJobs(this.destination, target, single, chunkFor(single.length, this.ctx.concurrency));
      jobs.push(...sets.jobs.map((job) => ({ target, job })));
      jobs.push(...unorderedJobs(this.destination, target, sets.rest, chunkFor(sets.rest.length, this.ctx.concurrency)).map((job) => ({ target, job })));
      const size = chunkFor(multiple.length, this.ctx.concurrency);
      for (let at = 0; at < multiple.length; at += size) jobs.push({ target, job: orderedJob(this.destination, target, multiple.slice(at, at + size), size) });
    }
    this.ctx.assertLease();
    await pausePoint('apply:before-writes');
    const sourceOf = batchSourceOfTarget(events, this.ctx.filter);
    let resolvedDuplicates = false;
    const afterSourceRead = (): Promise<void> => {
      resolvedDuplicates = true;
      return this.readAheadOfAll();
    };
    const delta = (job: WriteJob): WriteJob => async (leaveOut) => {
      try {
        await job(leaveOut);
      } catch (error) {
        if (!(error instanceof DeltaMissed)) throw error;
        await this.deltasMissed(error);
      }
    };
    await runLimited(jobs.map(({ target, job }) => () => withDuplicateKeyResolution(this.ctx.source, this.destination, sourceOf, (settled) => delta(job)((write) => settled(target, write.key)), afterSourceRead)), this.writers.current());
    const inSegment = new Set(events);
    const applied = [...deltas.keys()].filter((e) => inSegment.has(e) && !superseded.has(e));
    this.deltas.applied += applied.length;
    // Documents written from the source while deltas of the same batch ran beside them (a chain of duplicate keys
    // reaches any document): those deltas may have met a later state. Their documents are read and written again.
    // Not a delta a later delete or whole document of this batch replaced: its document read back now may be gone,
    // which would leave it open (unresolved) after the delete that settles it was already applied.
    if (resolvedDuplicates && applied.length) await this.rewriteFromSource(applied);
  }

  /** The documents of deltas that missed (no document, a statement refused), written from the source (or left open: see toWrite). */
  private async deltasMissed(missed: DeltaMissed): Promise<void> {
    this.deltas.missed += missed.writes.length;
    this.ctx.log.debug({ namespace: `${missed.target.db}.${missed.target.coll}`, documents: missed.writes.length }, 'update deltas found no document or were refused; writing the documents from the source');
    await this.rewriteFromSource(missed.writes.map((w) => w.origin as ChangeEvent));
  }

  /** Reads these events' documents from the source now and writes them (each document once, in stream order). */
  private async rewriteFromSource(events: ChangeEvent[]): Promise<void> {
    let rest = events;
    while (rest.length) {
      const read = await this.current.read(rest);
      const answered = rest.filter((e) => read.docs.has(e));
      await this.coverReads(answered, read.readAt);
      const byTarget = new Map<string, { target: Namespace; writes: Write[] }>();
      for (const event of answered) {
        const write = this.toWrite(event, read.docs.get(event));
        if (!write) continue;
        const target = this.ctx.filter.target(event.ns.db, event.ns.coll!);
        const name = `${target.db}.${target.coll}`;
        let entry = byTarget.get(name);
        if (!entry) byTarget.set(name, (entry = { target, writes: [] }));
        entry.writes.push(write);
      }
      // Current states of several documents land beside others the destination still holds in older states: they
      // may collide on a unique index like any write of the batch (a fuzzer run met it), and are resolved the same way.
      const sourceOf = batchSourceOfTarget(answered, this.ctx.filter);
      for (const { target, writes } of byTarget.values()) {
        await writeResolvingDuplicates(this.ctx.source, this.destination, sourceOf, target, writes, MAX_CHUNK, () => this.readAheadOfAll());
      }
      rest = rest.filter((e) => !read.docs.has(e));
    }
  }

  /** Documents read from the source at `readAt` are about to be written: later than the stream position, so the horizon covers them first. */
  private async coverReads(events: readonly ChangeEvent[], readAt: Timestamp | undefined): Promise<void> {
    if (!readAt || !events.length) return;
    for (const event of events) if (event.uuid && event.id !== undefined) this.ctx.horizon.readAt(event.uuid, eventDocumentKey(event), readAt);
    await this.ctx.horizon.cover(readAt);
  }

  /**
   * Documents that cannot be named were read from the source (a chain of duplicate keys, a rename across
   * databases): everything up to now is read ahead of the position, and the horizon covers it before they land.
   */
  private async readAheadOfAll(): Promise<void> {
    const now = await lastWriteTime(this.ctx.source.client, 'majority');
    this.ctx.horizon.readAtForAll(now);
    await this.ctx.horizon.cover(now);
  }

  private deltaWrite(event: ChangeEvent, statements: DiffStatement[]): DeltaWrite {
    this.unresolved.settle(event);
    return { kind: 'upd', key: event.key!, statements, origin: event };
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
      await this.readAheadOfAll();
      const sourceOf = (t: Namespace): (Namespace & { uuid?: string }) | undefined => (t.db === target.db && t.coll === target.coll ? to : undefined);
      await writeResolvingDuplicates(this.ctx.source, this.destination, sourceOf, target, [{ kind: 'put', key: entry.key, doc }], 1, () => this.readAheadOfAll());
      this.unresolved.remove(entry);
    }
  }
}

/**
 * A document an insert event created, written alone, goes as an insert (see insertOrPut); not one with a
 * `$`-prefixed top-level field, which only the put's pipeline form stores.
 */
function asInsert(write: Write, inserted: Set<Write>): Write {
  return write.kind === 'put' && inserted.has(write) && !hasDollarField(write.doc) ? { ...write, kind: 'new' } : write;
}

/**
 * The writes of a capped collection, in an order that leaves it as the source left it, in few commands.
 * Inserts keep their order (it is the collection's content). From MongoDB 7.0 every document the source
 * evicts arrives as a delete event between the inserts; a delete of a document not inserted in the same run
 * is moved before that run's inserts: the destination then removes exactly what the source removed and
 * evicts nothing of its own. Anything else (an update, a delete of a document just inserted) closes the run.
 */
function cappedOrder(writes: { key: string; write: Write; insert: boolean }[]): Write[] {
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
  for (const { key, write, insert } of writes) {
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
