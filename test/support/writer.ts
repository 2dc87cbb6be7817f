import { setTimeout as sleep } from 'node:timers/promises';
import { Double, Int32, Long, MongoClient, MongoError, MongoOperationTimeoutError, type Collection, type Document } from 'mongodb';

/** Server code of a write refused by setUserWriteBlockMode. */
const USER_WRITES_BLOCKED = 371;
const DUPLICATE_KEY = 11000;
/**
 * No operation of the test's waits longer than this, all its commands together (server selection, the writes,
 * their write concern, a transaction's commit or abort): one that waits without end (a majority no member set can
 * reach, a pool that never hands a connection) fails the test with an error that says so, rather than holding it,
 * and its cleanup, until the test runner's timeout. Before, each command had this bound of its own, so a
 * transaction whose write timed out and whose abort then waited too took twice as long, past stop()'s bound.
 */
const OPERATION_TIMEOUT_MS = 60_000;
/** Each command of a transaction: three of them and the abort still end within the operation's bound. */
const TRANSACTION_COMMAND_TIMEOUT_MS = 15_000;
/** stop() waits this long for the operations in flight. */
const STOP_TIMEOUT_MS = OPERATION_TIMEOUT_MS + 30_000;
/** After closing its client on a late stop, how long the writer waits for the abandoned operations to end. */
const CLOSE_TIMEOUT_MS = 15_000;

export interface WriterOptions {
  /** How many distinct `_id`s the writes land on (default 500): fewer means more updates of the same documents. */
  idSpace?: number;
  /**
   * Write as an application should during an election: a transient error (retryable-write and transaction
   * labels, network, server selection) is retried up to 20 times, and each transaction is one attempt (the
   * driver's withTransaction retries for up to 120 s by itself, which under an election can outlast the test).
   * A retried non-idempotent write may apply twice on the source; tests compare source with destination.
   */
  retryTransient?: boolean;
}

/**
 * The test suite's one writer: a mix of operations on a database until stopped — inserts, updates of several
 * kinds (including array changes and $unset), replacements, deletes, delete-then-reinsert, and multi-document
 * transactions. Counts the acknowledged operations. A cutover's write block ends its work.
 *
 * It writes through a client of its own. CI saw a single update wait 108 s after a step-down, past its 60 s
 * timeoutMS (the driver's bound did not end it; under Wine). The driver takes no abort signal for writes, so a
 * late stop() ends what still waits by closing that client, which the test's own checks do not use.
 */
export class Writer {
  private readonly client: MongoClient;
  private stopped = false;
  /** Set when a late stop() closed the client: the errors that follow are the writer's own doing. */
  private abandoned = false;
  private loops: Promise<void>[] = [];
  acknowledged = 0;
  /** Transient errors retried (retryTransient only). */
  retried = 0;
  private seq = 0;
  private readonly idSpace: number;
  /** What each worker is doing and since when: a stop that times out names it. */
  private readonly inFlight = new Map<number, { what: string; since: number }>();

  /** `uri`: the source the writes go to (the writer connects on its first write and disconnects in stop()). */
  constructor(uri: string, private readonly db: string, private readonly collections: string[], private readonly options: WriterOptions = {}) {
    this.client = new MongoClient(uri, { serverSelectionTimeoutMS: 15_000 });
    this.idSpace = options.idSpace ?? 500;
  }

  start(concurrency = 2): void {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop(i));
  }

  /**
   * Stops the work and disconnects; resolves with the acknowledged count. Operations still waiting after
   * STOP_TIMEOUT_MS are abandoned (the client is closed under them) and reported on stderr: the writer is the
   * tests' load, not their subject, and the sides are compared after it stops. Throws only if even closing the
   * client does not end them.
   */
  async stop(): Promise<number> {
    this.stopped = true;
    if (await this.loopsEndWithin(STOP_TIMEOUT_MS)) {
      await this.client.close();
      await this.rethrowFailure();
      return this.acknowledged;
    }
    const waiting = this.describeInFlight();
    this.abandoned = true;
    console.warn(`[writer] operations still waiting ${STOP_TIMEOUT_MS / 1000} s after stop(), past their own timeout; closing the writer's client under them (${waiting})`);
    await this.client.close(true);
    if (!(await this.loopsEndWithin(CLOSE_TIMEOUT_MS))) {
      throw new Error(`the test writer did not stop even after closing its client: ${this.describeInFlight()}`);
    }
    await this.rethrowFailure();
    return this.acknowledged;
  }

  /** A worker that met an error it does not expect has stopped with it: the test fails with that error. */
  private async rethrowFailure(): Promise<void> {
    const failed = (await Promise.allSettled(this.loops)).find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async loopsEndWithin(ms: number): Promise<boolean> {
    const bound = new AbortController();
    const late = sleep(ms, false, { signal: bound.signal }).catch(() => true);
    const ended = await Promise.race([Promise.allSettled(this.loops).then(() => true), late]);
    bound.abort();
    return ended;
  }

  private describeInFlight(): string {
    const waiting = [...this.inFlight].map(([worker, op]) => `worker ${worker}: ${op.what} for ${Math.round((Date.now() - op.since) / 1000)} s`);
    return waiting.join('; ') || 'none in flight';
  }

  private async loop(worker: number): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const name = this.collections[(worker + n) % this.collections.length] ?? 'w';
      const choice = (n++ + worker) % 9;
      const op = this.operation(this.client.db(this.db).collection<Document>(name), `w${Math.floor(Math.random() * this.idSpace)}`, choice);
      for (let attempt = 1; ; attempt++) {
        try {
          const deadline = Date.now() + OPERATION_TIMEOUT_MS;
          this.inFlight.set(worker, { what: `operation ${choice} on ${name}, attempt ${attempt}`, since: Date.now() });
          await op(() => Math.max(1, deadline - Date.now()));
          this.acknowledged++;
          break;
        } catch (error) {
          if (this.abandoned) return;
          const code = (error as { code?: unknown }).code;
          // A cutover's write block ends the writer's work: from then on the source refuses every user write.
          if (code === USER_WRITES_BLOCKED) return;
          // Duplicate keys from racing reinserts are expected; anything else fails the test (or is retried).
          if (code === DUPLICATE_KEY) break;
          if (!this.options.retryTransient) throw error;
          const transient = error instanceof MongoOperationTimeoutError || (error instanceof MongoError && (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('TransientTransactionError') || error.hasErrorLabel('UnknownTransactionCommitResult') || error.name === 'MongoNetworkError' || error.name === 'MongoServerSelectionError'));
          if (transient && this.stopped) break; // stopping: leave it; the sides are compared after a final tail
          if (!transient || attempt >= 20) throw error;
          this.retried++;
          await sleep(250);
        } finally {
          this.inFlight.delete(worker);
        }
      }
    }
  }

  /** One operation; `left` is the time its commands still have (see OPERATION_TIMEOUT_MS). */
  private operation(coll: Collection<Document>, id: string, choice: number): (left: () => number) => Promise<unknown> {
    const byId: Document = { _id: id };
    switch (choice) {
      case 0:
      case 1:
        return (left) => coll.updateOne(byId, { $set: { v: ++this.seq, at: new Date() }, $inc: { n: new Int32(1) } }, { upsert: true, timeoutMS: left() });
      case 2:
        return (left) => coll.updateOne(byId, { $push: { arr: { $each: [this.seq, 'x'], $slice: -5 } } as Document }, { timeoutMS: left() });
      case 3:
        return (left) => coll.updateOne(byId, { $unset: { at: '' } }, { timeoutMS: left() });
      case 4:
        return (left) => coll.replaceOne(byId, { replaced: true, big: 'r'.repeat(200), d: new Double(3) }, { upsert: true, timeoutMS: left() });
      case 5:
        return (left) => coll.deleteOne(byId, { timeoutMS: left() });
      case 6:
        return async (left) => {
          await coll.deleteOne(byId, { timeoutMS: left() });
          return coll.insertOne({ _id: id, reinserted: ++this.seq } as Document, { timeoutMS: left() });
        };
      case 7:
        return (left) => this.transaction(coll, id, left);
      default:
        return (left) => coll.updateOne(byId, { $set: { 'nested.a.b': this.seq, [`f${this.seq % 7}`]: Long.fromNumber(this.seq) } }, { upsert: true, timeoutMS: left() });
    }
  }

  private async transaction(coll: Collection<Document>, id: string, left: () => number): Promise<void> {
    const session = this.client.startSession({ defaultTimeoutMS: Math.min(left(), TRANSACTION_COMMAND_TIMEOUT_MS) });
    const body = async (): Promise<void> => {
      await coll.updateOne({ _id: id } as Document, { $set: { txn: ++this.seq } }, { upsert: true, session });
      await coll.updateOne({ _id: `${id}-t` } as Document, { $set: { txn: this.seq } }, { upsert: true, session });
    };
    try {
      if (!this.options.retryTransient) {
        await session.withTransaction(body);
        return;
      }
      session.startTransaction();
      try {
        await body();
        await session.commitTransaction();
      } catch (error) {
        await session.abortTransaction({ timeoutMS: Math.min(left(), TRANSACTION_COMMAND_TIMEOUT_MS) }).catch(() => undefined);
        throw error;
      }
    } finally {
      await session.endSession();
    }
  }
}
