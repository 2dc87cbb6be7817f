import { setTimeout as sleep } from 'node:timers/promises';
import { MongoServerSelectionError, type MongoClient } from 'mongodb';
import { OperationError } from '../errors.js';
import { isKilled, isTransient } from '../mongo/server-errors.js';
import { redactUri, scrub } from '../redact.js';
import { withinShortBound } from '../mongo/stall-bound.js';
import type { MigrationRun } from './run.js';

/**
 * Network cuts between the runner and a cluster. The driver retries one read or write and resumes a change
 * stream once, which does not cover a cursor in the middle of a copy, a second cut within one operation, or
 * a cut while the change stream resumes. The engine saves its position after every durable step and resumes
 * from it (that is how a rerun after kill -9 works), so the simplest correct retry is the same in-process:
 * on a transient error, wait with backoff, check that both sides answer, re-read the state and run the
 * step again from where the state says it stopped.
 *
 * The limit: a side counts as gone when it does not answer a ping within the driver's server selection
 * timeout (15 s by default, or the connection string's serverSelectionTimeoutMS). Then the command stops
 * with an error that names the side; the state stays saved, and the same command continues from it later.
 */

/** At most this many reconnects in a row without progress: a link that breaks forever is reported, not retried forever. */
const MAX_RECONNECTS = 100;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 8000;
/** A step that ran this long before it broke counted as progress, whatever the state shows. */
const HEALTHY_MS = 10_000;

/**
 * Runs a resumable engine step; after a transient network error, reconnects and runs it again from the saved state.
 * The backoff starts again from its first delay whenever the step made progress (the state moved on, or it ran
 * for a while): a link cut every few seconds must not leave the step asleep at the longest delay, every time.
 */
export async function withReconnect<T>(run: MigrationRun, what: string, step: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    const startedAt = Date.now();
    const mark = run.doc.updatedAt?.getTime();
    try {
      return await step();
    } catch (error) {
      // A write killed by the runner that took the lease over: say that, not "operation was interrupted".
      if (isKilled(error)) await run.lease.verifyHeld();
      if (!isTransient(error) || run.ports.signal.aborted) throw error;
      const message = scrub(firstLine(error instanceof Error ? error.message : String(error)));
      const ranLong = Date.now() - startedAt >= HEALTHY_MS;
      const saved = ranLong ? undefined : await savedAt(run);
      if (ranLong || (saved !== undefined && saved !== mark)) failures = 1;
      if (failures > MAX_RECONNECTS) {
        throw new OperationError(`${what} lost its connection ${MAX_RECONNECTS} times in a row without progress; last: ${message}`, 'check the network between the runner and both clusters; the state is saved, so the same command continues where it stopped', { cause: error });
      }
      const delay = Math.round(Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(failures - 1, 10)) * (0.5 + Math.random() / 2));
      run.ports.log.warn({ attempt: failures, delayMs: delay, error: message }, `${what}: connection lost; reconnecting, then resuming from the saved state`);
      await sleep(delay);
      await assertReachable(run.source, 'source', run.config.source.uri);
      await assertReachable(run.destination, 'destination', run.config.destination.uri);
      run.lease.assertHeld();
      // Retried: the ping may have found a live connection while another pooled one, cut too, fails this read
      // (CI: a MongoNetworkError escaped the reconnect here and failed verifier-reconnect's slice).
      run.doc = (await retryTransient(run.ports, what, () => run.store.get())) ?? run.doc;
    }
  }
}

/** When the state was last saved, if the destination answers now (a cut link may not: then unknown). */
async function savedAt(run: MigrationRun): Promise<number | undefined> {
  const doc = await withinShortBound('reading when the state was saved', (signal) => run.store.migrations.findOne({ _id: run.store.name }, { projection: { updatedAt: 1 }, signal })).catch(() => null);
  return doc?.updatedAt?.getTime();
}

/**
 * Retries one idempotent operation (opening a run, reading the state) a few times after transient network
 * errors; these run before or after a resumable step, where withReconnect cannot help.
 */
export async function retryTransient<T>(ports: { log: MigrationRun['ports']['log'] }, what: string, operation: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransient(error) || attempt >= attempts) throw error;
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
      ports.log.warn({ attempt, delayMs: delay, error: scrub(firstLine(error instanceof Error ? error.message : String(error))) }, `${what}: connection lost; retrying`);
      await sleep(delay);
    }
  }
}

/** Pings a side; a server selection timeout means it stayed away past the limit. */
async function assertReachable(client: MongoClient, side: 'source' | 'destination', uri: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await withinShortBound(`a ping of the ${side}`, (signal) => client.db('admin').command({ ping: 1 }, { signal }));
      return;
    } catch (error) {
      // A pooled connection cut a moment ago fails once more before the pool notices: try again soon.
      if (!(error instanceof MongoServerSelectionError) && isTransient(error) && attempt < 5) {
        await sleep(200 * attempt);
        continue;
      }
      const message = scrub(firstLine(error instanceof Error ? error.message : String(error)));
      throw new OperationError(
        `lost the connection to the ${side} (${redactUri(uri)}) and it did not answer again within the server selection timeout: ${message}`,
        `the migration's state is saved in the destination: run the same command again once the ${side} is reachable, and it continues where it stopped`,
        { cause: error },
      );
    }
  }
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).slice(0, 300);
}
