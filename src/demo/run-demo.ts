import { formatCount, plural } from '../format.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { commandImpl, type CommandName, type CommandOptions, type EnginePorts } from '../commands/index.js';
import { NamespaceFilter } from '../namespaces.js';
import { OperationError, UserError } from '../errors.js';
import { findMongod } from '../local/find-mongod.js';
import { LocalReplicaSet } from '../local/replica-set.js';
import type { Logger } from '../log.js';
import type { CommandOutcome, Phase, Progress } from '../model.js';
import { renderText } from '../report/text.js';
import { LagProbe, type LagProbeResult } from './lag-probe.js';
import { DEMO_DATABASES, seedDemoData, type SeedResult } from './seed.js';
import { DEMO_NAME, demoConfig, demoYaml } from './demo-config.js';
import type { DemoSummary } from './summary.js';
import { LiveWriter, type AcknowledgedCheck, type WriterStats } from './writer.js';

export { DEMO_NAME, demoConfig, demoYaml } from './demo-config.js';

/**
 * The demo: a whole migration between two local replica sets, with the very commands a user runs. It starts
 * two one-member replica sets (the tests' machinery), seeds a realistic dataset, keeps a live writer going,
 * then runs validate → plan → sync → tail → cutover → verify through the command table, and checks that
 * every acknowledged write reached the destination. Everything it starts is stopped and removed at the end,
 * on failure and on Ctrl-C too. It prints only through `io`.
 */

export interface DemoOptions {
  /** Documents to seed (default 120,000). */
  documents?: number;
  /** Length of the tail slice, in seconds (default 12). */
  tailSeconds?: number;
  /** Live writer's rate, in operations per second (default 40). */
  opsPerSecond?: number;
  /** mongod binary; default: findMongod() (MLM_MONGOD, PATH, then the provisioned one). */
  mongod?: string;
  /** Parent of the demo's temporary directory (default the OS temp directory). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DemoIO {
  /** A block of text for whoever watches: step headers and rendered outcomes. */
  print(text: string): void;
  /** Live progress of a running command (a redrawn line in a terminal). */
  progress(progress: Progress): void;
  log: Logger;
  /** Aborted on Ctrl-C: the running command saves its position, then everything is stopped and removed. */
  signal: AbortSignal;
}

export const DEMO_DEFAULTS = { documents: 120_000, tailSeconds: 12, opsPerSecond: 40 } as const;

/**
 * Checks the demo may fail and still go on. Only the oplog window: a source seeded seconds ago has a window
 * extrapolated from the seeding burst (minutes), while the check asks for the hour a long migration needs
 * between tail runs. The demo's tail runs straight after its sync, so seconds of window suffice.
 */
const DEMO_TOLERATED_FAILURES = new Set(['source.oplog-window']);

export async function runDemo(options: DemoOptions, io: DemoIO): Promise<DemoSummary> {
  const documents = options.documents ?? DEMO_DEFAULTS.documents;
  const tailSeconds = options.tailSeconds ?? DEMO_DEFAULTS.tailSeconds;
  const mongod = options.mongod ?? findMongod(options.env ?? process.env);
  if (!mongod) {
    throw new UserError('the demo needs a mongod binary and found none (MLM_MONGOD, mongod on PATH, or the provisioned one)', 'run `npm run provision` (installs MongoDB 7.0 under Wine on Debian), or `npm run demo`, which provisions it; or set MLM_MONGOD=/path/to/mongod');
  }
  const started = Date.now();
  const steps: DemoSummary['steps'] = [];
  const problems: string[] = [];
  const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'mlm-demo-'));
  const sets: LocalReplicaSet[] = [];
  const clients: MongoClient[] = [];
  let writer: LiveWriter | undefined;
  // Last resort when the process exits without reaching `finally` (a second Ctrl-C exits at once): kill the
  // mongods and remove their data synchronously, since nothing asynchronous runs in an exit handler.
  const onExit = (): void => {
    for (const set of sets) for (const m of set.members) m.process?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  // Ctrl-C also reaches the mongods (the terminal signals the whole process group) and they shut down, so a
  // command cannot finish gracefully: the demo stops waiting at once and cleans up; what was running is abandoned.
  const interrupted = new Promise<never>((_, reject) => {
    const stop = (): void => reject(new OperationError('the demo was interrupted; it stopped both replica sets and removed their data'));
    if (io.signal.aborted) stop();
    else io.signal.addEventListener('abort', stop, { once: true });
  });
  interrupted.catch(() => undefined);

  const step = async <T>(name: string, title: string, run: () => Promise<T>, exitCodeOf?: (value: T) => number): Promise<T> => {
    io.print(`\n== ${name}: ${title}\n`);
    const t0 = Date.now();
    const running = run();
    running.catch(() => undefined);
    const value = await Promise.race([running, interrupted]);
    steps.push({ name, seconds: (Date.now() - t0) / 1000, ...(exitCodeOf ? { exitCode: exitCodeOf(value) } : {}) });
    return value;
  };

  try {
    const [source, destination] = await step('start', `two one-member replica sets (mongod: ${mongod})`, async () => {
      // Each set is recorded as soon as it is up, so that cleanup finds it even if the other one fails; one that
      // comes up after an interruption (cleanup already ran) is stopped on the spot.
      const start = async (name: string): Promise<LocalReplicaSet> => {
        const set = await LocalReplicaSet.start({ name, mongod, baseDir: dir });
        sets.push(set);
        if (io.signal.aborted) await set.stop();
        return set;
      };
      const pair = await Promise.all([start('demo-source'), start('demo-destination')]);
      io.print(`source      ${pair[0].uri}\ndestination ${pair[1].uri}\n`);
      return pair;
    });
    const sourceClient = new MongoClient(source.uri);
    const destinationClient = new MongoClient(destination.uri);
    clients.push(sourceClient, destinationClient);

    const seed = await step('seed', `a shop, a CRM and product analytics: ${plural(documents, 'document')}`, async () => {
      const result = await seedDemoData(sourceClient, { documents, signal: io.signal });
      io.print(`${describeSeed(result)}\n`);
      return result;
    });
    const bytes = await dataBytes(sourceClient);

    const config = demoConfig(source.uri, destination.uri, tailSeconds);
    io.print(`\n${demoYaml(tailSeconds)}`);
    const filter = new NamespaceFilter(config.namespaces);
    const ports: EnginePorts = {
      log: io.log,
      signal: io.signal,
      runner: `demo@${hostname()}/${process.pid}`,
      // Once interrupted, an abandoned command's progress timer must not draw over the closing message.
      onProgress: (p) => {
        if (!io.signal.aborted) io.progress(p);
      },
    };
    const command = (name: CommandName, commandOptions: CommandOptions = {}): Promise<CommandOutcome> => commandImpl(name)(config, commandOptions, ports);
    const show = (outcome: CommandOutcome): CommandOutcome => {
      io.print(renderText(outcome));
      return outcome;
    };

    const liveWriter = new LiveWriter(sourceClient, { opsPerSecond: options.opsPerSecond ?? DEMO_DEFAULTS.opsPerSecond, orderIds: seed.orderIds, contactIds: seed.contactIds });
    writer = liveWriter;
    liveWriter.start();
    io.print(`\nlive writer started: about ${options.opsPerSecond ?? DEMO_DEFAULTS.opsPerSecond} writes/s (inserts, updates, deletes) on shop, crm and analytics\n`);

    const validated = await step('validate', 'every pre-migration check on both clusters', async () => show(await command('validate')), (o) => o.exitCode);
    const failed = (validated.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.id);
    if (failed.some((id) => !DEMO_TOLERATED_FAILURES.has(id))) throw new OperationError(`validate failed (${failed.join(', ')}): the demo cannot go on (see the checks above)`);
    if (failed.length) {
      io.print(
        'demo: going on despite source.oplog-window. The source was created seconds ago, so its oplog window is\n' +
          'extrapolated from the seeding burst; a real source has a history. This check guards the gaps between tail\n' +
          'runs of a long migration; the demo runs sync, tail and cutover back to back and needs seconds of window.\n',
      );
      steps.at(-1)!.note = 'source.oplog-window failed as expected on a just-seeded source; tolerated by the demo';
    }
    await step('plan', 'what will move, and an estimate', async () => show(await command('plan')), (o) => o.exitCode);

    const synced = await step('sync', 'copy everything while capturing changes, then catch up', async () => {
      let outcome = await command('sync');
      // A sync that paused (interrupted) is resumed by running it again, as a user would.
      while (outcome.progress?.phase === 'syncing' && !io.signal.aborted) outcome = await command('sync');
      return show(outcome);
    }, (o) => o.exitCode);
    if (synced.exitCode !== 0 || io.signal.aborted) throw new OperationError(`sync did not finish: ${synced.summary}`);

    const probe = new LagProbe(destinationClient, () => liveWriter.lastInsert, (db, coll) => filter.target(db, coll));
    const tailed = await step('tail', `keep the destination in sync for ${tailSeconds} s while the writer runs`, async () => {
      probe.start();
      const outcome = await command('tail', { maxDurationMs: tailSeconds * 1000 });
      const observed = await probe.stop();
      return { outcome: show(outcome), observed };
    }, (r) => r.outcome.exitCode);

    const cutover = await step('cutover', `block source writes, drain, restore indexes, verify, commit (--confirm ${config.name})`, async () => {
      try {
        return show(await command('cutover', { confirm: config.name }));
      } catch (error) {
        // Until this version has the cutover, the demo says so and still verifies what it can.
        if (error instanceof UserError && /not built yet/.test(error.message)) {
          io.print(`skipped: ${error.message}\n`);
          problems.push(error.message);
          return undefined;
        }
        throw error;
      }
    }, (o) => o?.exitCode ?? 2);
    if (cutover && cutover.exitCode !== 0) problems.push(`cutover failed: ${cutover.summary.split('\n')[0]}`);

    // The write block stopped the writer (its next write was refused); without a cutover it is stopped here.
    const writes = await liveWriter.stop();
    io.print(`\nlive writer stopped: ${writes.acknowledged} writes acknowledged, ${writes.rejectedByWriteBlock} refused by the write block${writes.blockedAt ? ` (first at ${writes.blockedAt})` : ''}\n`);

    const verified = await step('verify', 'compare both sides: counts, content hashes, indexes, options', async () => show(await command('verify')), (o) => o.exitCode);
    const check = await step('writes', 'every acknowledged write, looked up on the destination', async () => {
      const result = await liveWriter.checkDestination(destinationClient, (db, coll) => filter.target(db, coll));
      io.print(`${result.asExpected}/${result.checked} documents as their last acknowledged write left them${result.lostCount ? `; ${result.lostCount} LOST` : ''}\n`);
      return result;
    });
    const status = await command('status');
    const [onSource, onDestination] = await Promise.all([countAll(sourceClient, seed, () => null), countAll(destinationClient, seed, (db, coll) => filter.target(db, coll))]);

    return summarize({ seed, bytes, tailed: tailed.outcome, observedLag: tailed.observed, cutover, verified, status, writes, check, onSource, onDestination, steps, problems, started });
  } catch (error) {
    // After Ctrl-C whatever failed next is a consequence of the stopped servers, not the story.
    if (io.signal.aborted) return await interrupted;
    throw error;
  } finally {
    // Interrupted: the servers are going away, so nothing that talks to them is waited for.
    const wait = !io.signal.aborted;
    const writerStopped = writer?.running ? writer.stop().catch(() => undefined) : undefined;
    const clientsClosed = Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    if (wait) await Promise.all([writerStopped, clientsClosed]);
    await Promise.all(sets.map((s) => s.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', onExit);
  }
}

interface Results {
  seed: SeedResult;
  bytes: number;
  tailed: CommandOutcome;
  observedLag: LagProbeResult;
  cutover: CommandOutcome | undefined;
  verified: CommandOutcome;
  status: CommandOutcome;
  writes: WriterStats;
  check: AcknowledgedCheck;
  onSource: number;
  onDestination: number;
  steps: DemoSummary['steps'];
  problems: string[];
  started: number;
}

function summarize(r: Results): DemoSummary {
  const final = r.status.progress;
  const phasesReached = [...new Set((final?.history ?? []).map((h) => h.phase))] as Phase[];
  const lagValues = (final?.lagHistory ?? []).map((s) => s.lagSeconds);
  const verification = r.verified.verification;
  const mismatches = verification?.mismatches.length ?? 0;
  const finalPhase = final?.phase ?? 'unknown';
  const problems = [...r.problems];
  if (finalPhase !== 'committed') problems.push(`the migration ended ${finalPhase}, not committed`);
  if (r.verified.exitCode !== 0) problems.push(`verify: ${r.verified.summary}`);
  if (r.check.lostCount) problems.push(`${r.check.lostCount} acknowledged writes are not on the destination`);
  if (r.onSource !== r.onDestination) problems.push(`${r.onSource} documents on the source but ${r.onDestination} on the destination`);
  return {
    migration: DEMO_NAME,
    ok: problems.length === 0,
    finalPhase,
    phasesReached,
    dataset: { documents: r.seed.documents, collections: r.seed.collections, views: r.seed.views, indexes: r.seed.indexes, bytes: r.bytes },
    moved: { documentsCopied: final?.totals.documentsCopied ?? 0, changesApplied: final?.eventsApplied ?? 0 },
    lag: { atCutoverSeconds: r.tailed.progress?.lagSeconds ?? null, maxSeconds: lagValues.length ? Math.max(...lagValues) : null, observed: r.observedLag },
    downtimeSeconds: r.cutover?.progress?.downtimeSeconds ?? null,
    verification: { result: r.verified.summary, equal: r.verified.exitCode === 0 && mismatches === 0, exact: verification?.exact ?? false, collections: verification?.collections.length ?? 0, mismatches },
    writes: { ...r.writes, check: r.check },
    documentsOnSource: r.onSource,
    documentsOnDestination: r.onDestination,
    steps: r.steps,
    totalSeconds: (Date.now() - r.started) / 1000,
    problems,
  };
}

function describeSeed(s: SeedResult): string {
  const counts = Object.entries(s.byNamespace).map(([ns, n]) => `${ns} ${formatCount(n)}`).join(', ');
  return `seeded ${plural(s.documents, 'document')} in ${(s.durationMs / 1000).toFixed(1)} s: ${counts}; ${s.indexes} secondary indexes (unique, compound, TTL), a validator, a collation, a capped and a clustered collection, and the view shop.shipped_orders`;
}

async function dataBytes(client: MongoClient): Promise<number> {
  let total = 0;
  for (const db of DEMO_DATABASES) total += Number((await client.db(db).stats()).dataSize ?? 0);
  return total;
}

/** Documents in every seeded collection (through the renames on the destination). */
async function countAll(client: MongoClient, seed: SeedResult, target: (db: string, coll: string) => { db: string; coll: string } | null): Promise<number> {
  let total = 0;
  for (const ns of Object.keys(seed.byNamespace)) {
    const [db, coll] = ns.split('.') as [string, string];
    const t = target(db, coll) ?? { db, coll };
    total += await client.db(t.db).collection(t.coll).countDocuments({});
  }
  return total;
}
