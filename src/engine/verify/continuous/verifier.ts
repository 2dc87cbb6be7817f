import { setTimeout as sleep } from 'node:timers/promises';
import type { MongoClient, Timestamp } from 'mongodb';
import { finalizeUniqueIndexes } from '../../cutover/finalize-unique.js';
import { connectDestination, connectSource, type MigrationRun } from '../../run.js';
import { StateStore } from '../../state/store.js';
import { savedPositionTime } from '../../position.js';
import { isCatalogRace, isSnapshotGone, isTransient } from '../../../mongo/server-errors.js';
import { DestinationWatch } from './destination-watch.js';
import { listPairs, sourceCollectionOfTarget, sourceOfTarget, type Pair } from '../pairs.js';
import { compareMetadata } from './meta-compare.js';
import { openPartitions, planVerifyPartitions, StepSizer } from './partition-compare.js';
import { recheckEntries } from './recheck.js';
import { RecheckQueue } from './recheck-queue.js';
import { TouchLog, type WorthComparing } from './touch-log.js';
import { errorMessage } from '../../../errors.js';
import { settledWithin, shortCommandBound } from '../../../mongo/stall-bound.js';
import { InFlightCommands } from '../../../mongo/in-flight-commands.js';

export interface VerifierOptions {
  /** Share of wall time the verifier may work (the rest it sleeps), so that the tail keeps its lag target. */
  dutyCycle?: number;
  /** The tail's current lag: above `pauseAboveLagSeconds` the verifier only keeps its queue fed and waits. */
  lag?: () => number;
  pauseAboveLagSeconds?: number;
  /** Queue entries per recheck step (partition steps are sized by bytes, see StepSizer). */
  batchSize?: number;
  /** How often the metadata (collections, options, indexes) is compared again. */
  metaEveryMs?: number;
}

const MIN_PAGE_WHILE_COMPARING = 200;
/**
 * The tail's logged touches are compared in pages of this many, or once the oldest waited this long. A step costs
 * about a dozen commands on the two sides whatever its size: compared as soon as any was due, a steady load of 32
 * writers had the verifier send about twice the commands it needs (bench/README.md, "Fewer verification steps
 * under a steady load"). Waiting costs nothing: the records are in the state, the downtime prediction counts them,
 * and the cutover's final check compares whatever is still logged.
 */
const LOGGED_PAGE: WorthComparing = { entries: 1_000, olderThanMs: 2_000 };
/**
 * How long a stopping verifier's step may take to end on its own (a comparison step or a pump takes well under a
 * second on a healthy cluster) before its connections are closed under it.
 */
const STOP_GRACE_MS = 3_000;

/**
 * The verifier's own connections. Its commands are many and spread over several modules; rather than bound each
 * (as the tail's are, see stall-bound.ts), they are watched: one without a reply within the command bound, or a
 * step still running when the slice ends, has the verifier's connections closed under it, which fails whatever
 * it waits for at once (see `watchCommands` and `stop`). The tail's connections are never touched.
 */
interface Sides {
  source: MongoClient;
  destination: MongoClient;
  store: StateStore;
  queue: RecheckQueue;
  log: TouchLog;
  commands: InFlightCommands;
}

/** How often the verifier's commands waiting for a reply are looked at. */
const WATCH_EVERY_MS = 1_000;
/**
 * Share of wall time the verifier works. Its reads compete with the tail's on both clusters, but it already stops
 * whenever the lag passes half the cutover threshold, so it may use most of the time: at 0.5 it covered 100k
 * documents at ~1,100 documents/s here with no visible effect on the tail's lag p99 (1 s, the clock's step).
 */
const DUTY_CYCLE = 0.8;


/** Pairs whose documents the partitions compare (views hold none; time-series are refused by the sync). */
export const comparable = (pair: Pair): boolean => pair.kind === 'collection' || pair.kind === 'clustered' || pair.kind === 'capped';

/**
 * Continuous verification, run beside the tail in the same process: compares every partition once, rechecks
 * queued documents as they come due, compares metadata now and then, and keeps what it measured (its own
 * throughput, the cost of a recheck and of a metadata pass) for the predicted downtime. Everything it knows is
 * in the state database, so it resumes in the next slice, on another runner, or after a crash.
 * Errors stop the verifier, never the tail: a migration that is not fully verified is simply not ready.
 */
export class ContinuousVerifier {
  private stopped = false;
  private stopping: Promise<void> | undefined;
  /** Ends a unique conversion pass between two indexes when the slice ends (the rest waits for the next one). */
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private sides: Sides | undefined;
  /** Why the sides were closed under a running step: the stop, or a command that got no reply within the bound. */
  private closedBy: 'stop' | { stalled: string } | undefined;
  /** A unique index conversion runs: its collMod may rightly take longer than the bound. */
  private converting = false;
  private watch: DestinationWatch | undefined;
  private pairs: Pair[] = [];
  private lastMeta = 0;
  /** Measured rates, saved with each metadata round (not after every step: the migration document is shared). */
  private readonly rates: { recheckPerSecond?: number; comparePerSecond?: number } = {};
  private planned = false;
  private readonly steps: StepSizer;
  private turn = false;
  readonly stats = { compared: 0, rechecked: 0, workMs: 0, startedAt: Date.now(), error: undefined as string | undefined };

  constructor(private readonly run: MigrationRun, private readonly options: VerifierOptions = {}) {
    this.steps = new StepSizer(run.frontier);
  }

  static start(run: MigrationRun, options: VerifierOptions = {}): ContinuousVerifier {
    const verifier = new ContinuousVerifier(run, options);
    verifier.loop = verifier.supervise().catch((error: unknown) => {
      verifier.stats.error = errorMessage(error);
      run.ports.log.warn({ error: verifier.stats.error }, 'continuous verification stopped; the cutover compares what it did not cover');
    });
    return verifier;
  }

  /**
   * Runs the verifier, and starts it again after a lost connection, a killed cursor or an election (with backoff),
   * as the tail does: everything it knows is in the state. Before, one reset connection stopped it for the rest of
   * the slice. Any other error stops it.
   */
  private async supervise(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      let watching: NodeJS.Timeout | undefined;
      try {
        this.sides = await this.connect();
        watching = this.watchCommands(this.sides);
        await this.main(this.sides);
        return;
      } catch (error) {
        const closedBy = this.closedBy;
        this.closedBy = undefined;
        if (closedBy === 'stop') return; // the slice ended mid-step: nothing failed
        const stalled = closedBy?.stalled;
        if (this.stopped || this.run.ports.signal.aborted || (!stalled && !isTransient(error))) throw error;
        if (Date.now() - started > 60_000) attempt = 1; // a cut after a long good run starts the backoff over
        const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        const why = stalled ? `${stalled} got no reply within ${Math.round(shortCommandBound() / 1000)} s; its connections were closed` : errorMessage(error);
        this.run.ports.log.info({ error: why, delayMs }, 'continuous verification lost a connection; starting again from the saved state');
        await this.watch?.close().catch(() => undefined);
        this.watch = undefined;
        this.planned = false;
        await this.closeSides();
        await this.rest(delayMs);
        if (this.stopped || this.run.ports.signal.aborted) return;
      } finally {
        clearInterval(watching);
        await this.closeSides();
      }
    }
  }

  private async connect(): Promise<Sides> {
    const { config, touched } = this.run;
    const options = { role: 'verifier' };
    const destination = await connectDestination(config, options);
    try {
      const source = await connectSource(config, options);
      const store = new StateStore(destination, this.run.store.name);
      const commands = new InFlightCommands([
        { side: 'source', client: source },
        { side: 'destination', client: destination },
      ]);
      return { source, destination, store, queue: new RecheckQueue(store), log: new TouchLog(store, touched), commands };
    } catch (error) {
      await destination.close().catch(() => undefined);
      throw error;
    }
  }

  /** Closes the verifier's connections; whatever waits on them fails at once (their own clean-up is not waited for long). */
  private async closeSides(): Promise<void> {
    const sides = this.sides;
    this.sides = undefined;
    if (!sides) return;
    const closing = Promise.all([sides.source.close(), sides.destination.close()]).catch(() => undefined);
    await settledWithin(closing, STOP_GRACE_MS);
  }

  /**
   * Closes the verifier's connections when one of its commands has had no reply within the command bound (a path
   * gone silent): whatever it waits for fails, and the verifier starts again from the saved state, as the tail
   * does after a stalled command.
   */
  private watchCommands(sides: Sides): NodeJS.Timeout {
    const timer = setInterval(() => {
      const oldest = sides.commands.oldest();
      if (this.converting || !oldest || oldest.waitedMs <= shortCommandBound() || this.sides !== sides) return;
      this.closedBy ??= { stalled: oldest.what };
      void this.closeSides();
    }, WATCH_EVERY_MS);
    timer.unref();
    return timer;
  }

  /** Stops the verifier (see stopOnce); every caller waits for the same stop. */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  /**
   * Ends the loop at its next pause. A step still running after a short grace (one waiting on a silent path, or a
   * long index conversion) has the verifier's connections closed under it: a step cut short is a verifier killed
   * mid-step, which its state is built for. Before, the stop waited up to the command bound (80 s seen under
   * network cuts), and the slice's end and its last position save with it.
   */
  private async stopOnce(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (await settledWithin(this.loop, STOP_GRACE_MS)) return;
    this.closedBy = 'stop';
    await this.closeSides();
    const bound = shortCommandBound();
    if (!(await settledWithin(this.loop, bound))) this.run.ports.log.warn({ waitedSeconds: Math.round(bound / 1000) }, 'continuous verification did not stop in time; left behind (it resumes from its saved state)');
  }

  private async main(sides: Sides): Promise<void> {
    const { run } = this;
    // Read fresh: after a restart (supervise) the position this process saved since it opened is the one to resume from.
    const saved = (await sides.store.get())?.verification?.destinationToken;
    this.pairs = await listPairs(sides.source, run.filter);
    // Before this process compares anything: from here on only its own steps move the partitions.
    run.frontier?.collations(this.pairs);
    await run.frontier?.load(sides.store);
    const watch = new DestinationWatch(sides.destination, sides.store, sides.queue, (target) => sourceOfTarget(this.pairs)(target), run.filter.targetDatabaseCondition(), run.frontier, run.touched);
    this.watch = watch;
    // The destination watch starts before the first comparison: a write there is either compared or queued.
    await watch.open(saved);
    if (!run.doc.verification?.startedAt) await sides.store.migrations.updateOne({ _id: sides.store.name }, { $set: { 'verification.startedAt': new Date() } });
    const duty = Math.min(1, Math.max(0.05, this.options.dutyCycle ?? DUTY_CYCLE));
    let finalized = false;
    while (!this.stopped && !run.ports.signal.aborted) {
      // Behind a backlog the watch waits too: reading the destination's stream cost the destination primary about
      // a fifth of its CPU during a burst, and the writes it would queue are the tail's own. It reads them once
      // the tail keeps up (or, if its place has left the destination's oplog by then, every partition is compared again).
      if ((this.options.lag?.() ?? 0) > (this.options.pauseAboveLagSeconds ?? Infinity)) {
        await this.rest(250);
        continue;
      }
      await watch.pump();
      if (watch.historyLost) {
        watch.historyLost = false;
        this.planned = false;
        run.ports.log.warn('the destination change stream lost its place in the destination oplog: every collection is compared again');
      }
      // First, once the tail keeps up: the conversion reads whole indexes on both sides.
      if (!finalized) {
        await this.finalizeIndexes(sides);
        finalized = true;
        continue;
      }
      const started = Date.now();
      const worked = await this.step(sides).catch((error: unknown) => {
        // A collection dropped or renamed between the listing and the read: list again, and go on.
        if (!isCatalogRace(error)) throw error;
        run.ports.log.debug({ error: errorMessage(error) }, 'a collection changed under a verification step; planning again');
        this.planned = false;
        return true;
      });
      const spent = Date.now() - started;
      this.stats.workMs += spent;
      // Throttled by duty cycle: after working `spent` ms, rest long enough for the tail to keep the lead.
      await this.rest(worked ? Math.ceil((spent * (1 - duty)) / duty) : 500);
    }
    // Its position, saved for the next slice (or the next attempt).
    await watch.close();
  }

  /** Sleeps, but wakes at once when the slice ends: stopping must not wait out a throttle pause. */
  private async rest(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** One unit of work; false when there was nothing to do. */
  private async step(sides: Sides): Promise<boolean> {
    const batchSize = this.options.batchSize ?? 1000;
    if (!this.planned || Date.now() - this.lastMeta > (this.options.metaEveryMs ?? 5000)) {
      await this.plan(sides);
      await this.meta(sides);
      return true;
    }
    // The tail's logged touches and the queue's rechecks take turns with the partitions: under a steady writer
    // there is always something logged or due, and partitions that waited for none would never be covered.
    this.turn = !this.turn;
    const [partition] = await openPartitions(sides.store, 1);
    // While partitions remain, a recheck turn waits for a worthwhile page: each costs a few round trips whatever
    // its size, and a trickle of due entries would otherwise take half of the verifier's time.
    const rechecks = async (minimum: number): Promise<boolean> => {
      // Judged against the source as of the saved (applied) position: see recheckEntries and TouchLog.
      const applied = await this.appliedTime(sides);
      if (!applied) return false;
      return (await this.compareLogged(sides, applied)) || this.recheckDue(sides, batchSize, minimum, applied);
    };
    if (this.turn && (await rechecks(partition ? MIN_PAGE_WHILE_COMPARING : 1))) return true;
    if (!partition) return this.turn ? false : rechecks(1);
    const started = Date.now();
    const result = await this.steps.run(sides.source, sides.destination, sides.store, sides.queue, partition);
    this.stats.compared += result.compared;
    if (result.compared >= 100) this.rates.comparePerSecond = Math.round((result.compared * 1000) / Math.max(1, Date.now() - started));
    return true;
  }

  /** Compares the tail's logged touches the saved position has passed (see TouchLog). */
  private async compareLogged(sides: Sides, applied: Timestamp): Promise<boolean> {
    const started = Date.now();
    const logged = await sides.log.compareDue(sides.source, sides.destination, sides.queue, applied, LOGGED_PAGE).catch((error: unknown) => {
      // A tail further behind than the source keeps history for (minSnapshotHistoryWindowInSeconds): wait for it.
      if (isSnapshotGone(error)) return false as const;
      throw error;
    });
    if (!logged) return false;
    this.stats.rechecked += logged.compared;
    if (logged.compared >= 100) this.rates.recheckPerSecond = Math.round((logged.compared * 1000) / Math.max(1, Date.now() - started));
    return true;
  }

  private async recheckDue(sides: Sides, batchSize: number, minimum: number, applied: Timestamp): Promise<boolean> {
    const due = await sides.queue.next(batchSize);
    if (due.length < minimum) return false;
    const started = Date.now();
    try {
      await recheckEntries(sides.source, sides.destination, sides.queue, due, applied, { inFlux: (at) => sides.log.inFlux(at) });
    } catch (error) {
      // A tail further behind than the source keeps history for (minSnapshotHistoryWindowInSeconds): wait for it.
      if (isSnapshotGone(error)) return false;
      throw error;
    }
    this.stats.rechecked += due.length;
    this.rates.recheckPerSecond = Math.round((due.length * 1000) / Math.max(1, Date.now() - started));
    return true;
  }

  /** The source time of the tail's saved position: the destination holds every change up to it, durably. */
  private async appliedTime(sides: Sides): Promise<Timestamp | undefined> {
    const doc = await sides.store.get();
    return doc ? savedPositionTime(doc) : undefined;
  }

  /** Unique indexes become unique while the tail runs, not inside the cutover (see finalize-unique.ts). */
  private async finalizeIndexes(sides: Sides): Promise<void> {
    const { run } = this;
    this.converting = true;
    try {
      const converted = await finalizeUniqueIndexes(sides.source, sides.destination, sides.store, sourceCollectionOfTarget(this.pairs), AbortSignal.any([run.ports.signal, this.abort.signal]));
      if (converted) run.ports.log.info({ converted }, 'relaxed unique indexes are unique again');
    } catch (error) {
      if (this.abort.signal.aborted) return;
      // Not fatal here: the cutover converts what is left (inside the block) and reports why it could not.
      run.ports.log.warn({ error: errorMessage(error) }, 'a unique index could not be finalized during tail');
    } finally {
      this.converting = false;
    }
  }

  /** Plans every comparable collection that has no partitions (new ones, and those DDL reset). */
  private async plan(sides: Sides): Promise<void> {
    this.pairs = await listPairs(sides.source, this.run.filter);
    this.run.frontier?.collations(this.pairs);
    const planned = new Set(await sides.store.verifyPartitions.distinct('source', { migration: sides.store.name }));
    for (const pair of this.pairs) {
      if (!comparable(pair) || planned.has(pair.source)) continue;
      await planVerifyPartitions(sides.source, sides.destination, sides.store, pair, this.run.frontier);
    }
    this.planned = true;
  }

  private async meta(sides: Sides): Promise<void> {
    const started = Date.now();
    const owned = this.run.doc.collections.map((c) => c.target);
    const result = await compareMetadata(sides.source, sides.destination, sides.store, this.pairs, { counts: false, owned });
    this.lastMeta = Date.now();
    const rates = Object.fromEntries(Object.entries(this.rates).map(([k, v]) => [`verification.${k}`, v]));
    await this.record(sides, { ...rates, 'verification.metaMismatches': result.mismatches.map((m) => `${m.target ?? m.namespace}: ${m.detail}`), 'verification.metaMs': this.lastMeta - started, 'verification.lastRoundAt': new Date() });
  }

  private async record(sides: Sides, set: Record<string, unknown>): Promise<void> {
    this.run.lease.assertHeld();
    await sides.store.migrations.updateOne({ _id: sides.store.name }, { $set: set });
  }
}
