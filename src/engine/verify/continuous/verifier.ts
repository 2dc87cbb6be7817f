import { setTimeout as sleep } from 'node:timers/promises';
import type { Timestamp } from 'mongodb';
import { finalizeUniqueIndexes } from '../../cutover/finalize-unique.js';
import type { MigrationRun } from '../../run.js';
import { savedPositionTime } from '../../position.js';
import { isCatalogRace, isSnapshotGone, isTransient } from '../../../mongo/server-errors.js';
import { DestinationWatch } from './destination-watch.js';
import { listPairs, sourceOfTarget, type Pair } from '../pairs.js';
import { compareMetadata } from './meta-compare.js';
import { openPartitions, planVerifyPartitions, StepSizer } from './partition-compare.js';
import { recheckEntries } from './recheck.js';
import { RecheckQueue } from './recheck-queue.js';
import { TouchLog } from './touch-log.js';
import { errorMessage } from '../../../errors.js';
import { settledWithin, shortCommandBound } from '../../../mongo/stall-bound.js';

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
  private readonly queue: RecheckQueue;
  private readonly log: TouchLog;
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
    this.queue = new RecheckQueue(run.store);
    this.log = new TouchLog(run.store, run.touched);
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
      try {
        await this.main();
        return;
      } catch (error) {
        if (this.stopped || this.run.ports.signal.aborted || !isTransient(error)) throw error;
        if (Date.now() - started > 60_000) attempt = 1; // a cut after a long good run starts the backoff over
        const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        this.run.ports.log.info({ error: errorMessage(error), delayMs }, 'continuous verification lost a connection; starting again from the saved state');
        await this.watch?.close().catch(() => undefined);
        this.watch = undefined;
        this.planned = false;
        await this.rest(delayMs);
        if (this.stopped || this.run.ports.signal.aborted) return;
      }
    }
  }

  /**
   * Stops the verifier and waits for its step to end, within the command bound: a step waiting on a path that went
   * silent must not hold the slice's end (and the position save after it). A step left behind is a verifier killed
   * mid-step, which its state is built for; the run's clients close under it.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    const bound = shortCommandBound();
    const stopped = (await settledWithin(this.loop, bound)) && (await settledWithin(this.watch?.close(), bound));
    if (!stopped) this.run.ports.log.warn({ waitedSeconds: Math.round(bound / 1000) }, 'continuous verification did not stop in time; left behind (it resumes from its saved state)');
  }

  private async main(): Promise<void> {
    const { run } = this;
    // Read fresh: after a restart (supervise) the position this process saved since it opened is the one to resume from.
    const saved = (await run.store.get())?.verification?.destinationToken;
    this.pairs = await listPairs(run.source, run.filter);
    // Before this process compares anything: from here on only its own steps move the partitions.
    run.frontier?.collations(this.pairs);
    await run.frontier?.load(run.store);
    this.watch = new DestinationWatch(run.destination, run.store, this.queue, (target) => sourceOfTarget(this.pairs)(target), run.filter.targetDatabasePattern(), run.frontier, run.touched);
    // The destination watch starts before the first comparison: a write there is either compared or queued.
    await this.watch.open(saved);
    if (!run.doc.verification?.startedAt) await run.store.migrations.updateOne({ _id: run.store.name }, { $set: { 'verification.startedAt': new Date() } });
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
      await this.watch.pump();
      if (this.watch.historyLost) {
        this.watch.historyLost = false;
        this.planned = false;
        run.ports.log.warn('the destination change stream lost its place in the destination oplog: every collection is compared again');
      }
      // First, once the tail keeps up: the conversion reads whole indexes on both sides.
      if (!finalized) {
        await this.finalizeIndexes();
        finalized = true;
        continue;
      }
      const started = Date.now();
      const worked = await this.step().catch((error: unknown) => {
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
  }

  /** Sleeps, but wakes at once when the slice ends: stopping must not wait out a throttle pause. */
  private async rest(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** One unit of work; false when there was nothing to do. */
  private async step(): Promise<boolean> {
    const batchSize = this.options.batchSize ?? 1000;
    if (!this.planned || Date.now() - this.lastMeta > (this.options.metaEveryMs ?? 5000)) {
      await this.plan();
      await this.meta();
      return true;
    }
    // The tail's logged touches and the queue's rechecks take turns with the partitions: under a steady writer
    // there is always something logged or due, and partitions that waited for none would never be covered.
    this.turn = !this.turn;
    const [partition] = await openPartitions(this.run.store, 1);
    // While partitions remain, a recheck turn waits for a worthwhile page: each costs a few round trips whatever
    // its size, and a trickle of due entries would otherwise take half of the verifier's time.
    const rechecks = async (minimum: number): Promise<boolean> => {
      // Judged against the source as of the saved (applied) position: see recheckEntries and TouchLog.
      const applied = await this.appliedTime();
      if (!applied) return false;
      return (await this.compareLogged(applied)) || this.recheckDue(batchSize, minimum, applied);
    };
    if (this.turn && (await rechecks(partition ? MIN_PAGE_WHILE_COMPARING : 1))) return true;
    if (!partition) return this.turn ? false : rechecks(1);
    const started = Date.now();
    const result = await this.steps.run(this.run.source, this.run.destination, this.run.store, this.queue, partition);
    this.stats.compared += result.compared;
    if (result.compared >= 100) this.rates.comparePerSecond = Math.round((result.compared * 1000) / Math.max(1, Date.now() - started));
    return true;
  }

  /** Compares the tail's logged touches the saved position has passed (see TouchLog). */
  private async compareLogged(applied: Timestamp): Promise<boolean> {
    const started = Date.now();
    const logged = await this.log.compareDue(this.run.source, this.run.destination, this.queue, applied).catch((error: unknown) => {
      // A tail further behind than the source keeps history for (minSnapshotHistoryWindowInSeconds): wait for it.
      if (isSnapshotGone(error)) return false as const;
      throw error;
    });
    if (!logged) return false;
    this.stats.rechecked += logged.compared;
    if (logged.compared >= 100) this.rates.recheckPerSecond = Math.round((logged.compared * 1000) / Math.max(1, Date.now() - started));
    return true;
  }

  private async recheckDue(batchSize: number, minimum: number, applied: Timestamp): Promise<boolean> {
    const due = await this.queue.next(batchSize);
    if (due.length < minimum) return false;
    const started = Date.now();
    try {
      await recheckEntries(this.run.source, this.run.destination, this.queue, due, applied, { inFlux: (at) => this.log.inFlux(at) });
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
  private async appliedTime(): Promise<Timestamp | undefined> {
    const doc = await this.run.store.get();
    return doc ? savedPositionTime(doc) : undefined;
  }

  /** Unique indexes become unique while the tail runs, not inside the cutover (see finalize-unique.ts). */
  private async finalizeIndexes(): Promise<void> {
    const { run } = this;
    try {
      const converted = await finalizeUniqueIndexes(run.source, run.destination, run.store, sourceOfTarget(this.pairs), AbortSignal.any([run.ports.signal, this.abort.signal]));
      if (converted) run.ports.log.info({ converted }, 'relaxed unique indexes are unique again');
    } catch (error) {
      if (this.abort.signal.aborted) return;
      // Not fatal here: the cutover converts what is left (inside the block) and reports why it could not.
      run.ports.log.warn({ error: errorMessage(error) }, 'a unique index could not be finalized during tail');
    }
  }

  /** Plans every comparable collection that has no partitions (new ones, and those DDL reset). */
  private async plan(): Promise<void> {
    this.pairs = await listPairs(this.run.source, this.run.filter);
    this.run.frontier?.collations(this.pairs);
    const planned = new Set(await this.run.store.verifyPartitions.distinct('source', { migration: this.run.store.name }));
    for (const pair of this.pairs) {
      if (!comparable(pair) || planned.has(pair.source)) continue;
      await planVerifyPartitions(this.run.source, this.run.destination, this.run.store, pair, this.run.frontier);
    }
    this.planned = true;
  }

  private async meta(): Promise<void> {
    const started = Date.now();
    const owned = this.run.doc.collections.map((c) => c.target);
    const result = await compareMetadata(this.run.source, this.run.destination, this.run.store, this.pairs, { counts: false, owned });
    this.lastMeta = Date.now();
    const rates = Object.fromEntries(Object.entries(this.rates).map(([k, v]) => [`verification.${k}`, v]));
    await this.record({ ...rates, 'verification.metaMismatches': result.mismatches.map((m) => `${m.target ?? m.namespace}: ${m.detail}`), 'verification.metaMs': this.lastMeta - started, 'verification.lastRoundAt': new Date() });
  }

  private async record(set: Record<string, unknown>): Promise<void> {
    this.run.lease.assertHeld();
    await this.run.store.migrations.updateOne({ _id: this.run.store.name }, { $set: set });
  }
}
