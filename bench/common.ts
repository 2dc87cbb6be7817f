import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { MongoClient } from 'mongodb';
import { findMongod } from '../src/local/find-mongod.js';
import { LocalReplicaSet } from '../src/local/replica-set.js';
import type { ChildRequest } from './runner-child.js';

export interface BenchOptions {
  docs: number;
  size: number;
  collections: number;
  /** Seconds of load in the tail scenario. */
  loadSeconds: number;
  writers: number;
  /** Documents of the smaller data set (tail scenario and the second memory figure). */
  smallDocs: number;
  baseDir: string;
  scenarios: Set<string>;
  /** Extra sync options for our runner (YAML lines), to compare settings. */
  extra: string;
  cpuProf: string | undefined;
  /** Documents the burst scenario's batch job updates (it also inserts a fifth and deletes a tenth as many). */
  burstDocs: number;
  burstSize: number;
  /** mixed: updateMany, insertMany and deleteMany (a batch job); inserts: insertMany alone (a bulk load). */
  burstShape: 'mixed' | 'inserts';
  /**
   * Start the burst's and the tail's load only once continuous verification has compared every partition: the
   * steady state of a long migration, rather than its first pass (the most expensive moment) running beside the load.
   */
  afterVerification: boolean;
}

export function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function mongodPath(): string {
  const path = findMongod();
  if (!path) throw new Error('no mongod found: run `npm run provision` or set MLM_MONGOD');
  return path;
}

/** Starts a replica set and always stops it (and removes its data) afterwards. */
export async function withSet<T>(options: { name: string; baseDir: string; members?: number; oplogSizeMB?: number }, use: (set: LocalReplicaSet) => Promise<T>): Promise<T> {
  const set = await LocalReplicaSet.start({ mongod: mongodPath(), ...options });
  try {
    return await use(set);
  } finally {
    await set.stop();
  }
}

export async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { maxPoolSize: 32 });
  await client.connect();
  return client;
}

export interface ChildResult {
  ms: number;
  vmHwmKB: number | null;
  /** CPU seconds the runner itself used. */
  cpuS: number;
  /** How late the runner's event loop ran its callbacks (monitorEventLoopDelay, 10 ms resolution), in ms. */
  loopDelayMs?: { p50: number; p99: number; max: number };
  /** Peak VmRSS seen by sampling /proc/<pid>/status from outside every 100 ms. */
  sampledPeakKB: number;
  summary: string;
}

let bundled: Promise<string> | undefined;

/**
 * Bundles bench/runner-child.ts the way scripts/bundle.mjs bundles the shipped CLI, so the child's memory is
 * the product's (running it through tsx would add about 70 MB of transpiler to every figure).
 */
async function runnerBundle(dir: string): Promise<string> {
  bundled ??= (async () => {
    const outfile = join(dir, 'runner-child.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./runner-child.ts', import.meta.url))],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['kerberos', '@mongodb-js/zstd', '@aws-sdk/credential-providers', 'snappy', 'aws4', 'mongodb-client-encryption', 'socks', 'gcp-metadata'],
      logLevel: 'warning',
      banner: { js: "import { createRequire as __mlmCreateRequire } from 'node:module'; const require = __mlmCreateRequire(import.meta.url);" },
    });
    return outfile;
  })();
  return bundled;
}

/**
 * Runs our runner (bench/runner-child.ts, bundled) in a child node process. `stop` (when given) sends SIGTERM when it
 * resolves; the child saves its position and exits.
 */
export async function runChild(request: ChildRequest, options: { baseDir: string; cpuProf?: string; stop?: Promise<void> }): Promise<{ done: Promise<ChildResult>; pid: number }> {
  const script = await runnerBundle(options.baseDir);
  // MLM_BENCH_NODE_FLAGS: V8/node flags for the runner, to study memory (e.g. --max-semi-space-size=4).
  const flags = (process.env.MLM_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [...flags, ...(options.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProf] : []), script, JSON.stringify(request)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let result = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    // What the runner prints besides its result (e.g. --trace-gc in MLM_BENCH_NODE_FLAGS) goes on to stderr.
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) result = line;
    else process.stderr.write(line + '\n');
  });
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match) peak = Math.max(peak, Number(match[1]));
    } catch {
      // the process is gone
    }
  }, 100);
  void options.stop?.then(() => child.kill('SIGTERM'));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.once('exit', (code) => {
      clearInterval(sampler);
      const line = out.trim().startsWith('{') ? out.trim() : result;
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`runner (${request.mode}) exited with ${code}: ${out.slice(-2000)}`));
      resolve({ ...(JSON.parse(line) as Omit<ChildResult, 'sampledPeakKB'>), sampledPeakKB: peak });
    });
  });
  return { done, pid: child.pid ?? -1 };
}

/** CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat; 0 when it is gone. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name; ticks are 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of the given mongod members together. */
export function membersCpu(set: LocalReplicaSet, indexes?: number[]): number {
  return set.members.filter((m) => !indexes || indexes.includes(m.index)).reduce((sum, m) => sum + cpuSecondsOf(m.process?.pid), 0);
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs our tail until continuous verification has compared every partition of the migration, then stops it. */
export async function tailUntilVerified(dst: MongoClient, request: { name: string; source: string; destination: string; extra: string }, baseDir: string): Promise<void> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const child = await runChild({ ...request, mode: 'tail' }, { baseDir, stop: stopped });
  child.done.catch(() => undefined);
  const partitions = dst.db('__mongo_live_migrate').collection('verify_partitions');
  const started = Date.now();
  try {
    for (;;) {
      const [all, open] = await Promise.all([partitions.countDocuments({ migration: request.name }), partitions.countDocuments({ migration: request.name, done: false })]);
      if (all > 0 && open === 0) break;
      if (Date.now() - started > 600_000) throw new Error('continuous verification did not finish within 10 minutes');
      await sleep(500);
    }
    log(`continuous verification compared every partition in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    stop();
    await child.done.catch(() => undefined);
  }
}
