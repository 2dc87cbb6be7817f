import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MongoClient, Timestamp } from 'mongodb';
import { savedPositionTime } from '../../src/engine/position.js';
import { StateStore } from '../../src/engine/state/store.js';
import type { MigrationDoc, PartitionDoc } from '../../src/engine/state/types.js';
import { cliCommand } from './cli-command.js';

/**
 * A runner in a child process (the real CLI: see cliCommand) that a test can SIGKILL at a
 * chosen moment or SIGTERM, as a CI job that dies or is cancelled would be.
 */
export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Runner {
  child: ChildProcess;
  exited: Promise<RunnerExit>;
  /** True once the process has exited. */
  done: () => boolean;
  kill: (signal: NodeJS.Signals) => void;
}

/** Writes a migration.yaml with the URIs inline (test clusters have no secrets) and returns its path. */
export function writeMigrationFile(name: string, sourceUri: string, destinationUri: string, databases: string[], extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlm-runner-'));
  const file = join(dir, 'migration.yaml');
  const include = databases.map((db) => `"${db}.*"`).join(', ');
  writeFileSync(file, `version: 1\nname: ${name}\nsource: { uri: "${sourceUri}" }\ndestination: { uri: "${destinationUri}" }\nnamespaces:\n  include: [${include}]\n${extra}`);
  return file;
}

/** Starts `mongo-live-migrate <args>` in a child process; env adds to (or overrides) this process's. */
export function startRunner(args: string[], env: Record<string, string> = {}): Runner {
  const started = Date.now();
  const child = spawn(process.execPath, [...cliCommand(), ...args], {
    env: { ...process.env, MLM_LOG_LEVEL: process.env.MLM_TEST_CHILD_LOG ?? process.env.MLM_TEST_LOG ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let finished = false;
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (process.env.MLM_TEST_LOG) process.stderr.write(c);
  });
  // MLM_TEST_CHILD_LOG_DIR keeps each runner's log (with MLM_TEST_CHILD_LOG=debug, everything it did).
  const logDir = process.env.MLM_TEST_CHILD_LOG_DIR;
  if (logDir) {
    mkdirSync(logDir, { recursive: true });
    child.stderr!.on('data', (c: Buffer) => appendFileSync(join(logDir, `${args[0] ?? 'run'}-${child.pid}.log`), c));
  }
  const exited = new Promise<RunnerExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      finished = true;
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return {
    child,
    exited,
    done: () => finished,
    kill: (signal) => {
      if (!finished) child.kill(signal);
    },
  };
}

/** Runs the CLI to its end. */
export async function runRunner(args: string[], env: Record<string, string> = {}): Promise<RunnerExit> {
  return startRunner(args, env).exited;
}

/** Reads the migration's state straight from the destination's state database. */
export class StateWatch {
  readonly store: StateStore;
  constructor(destination: MongoClient, name: string) {
    this.store = new StateStore(destination, name);
  }

  doc(): Promise<MigrationDoc | null> {
    return this.store.get();
  }

  partitions(): Promise<PartitionDoc[]> {
    return this.store.partitionsOf();
  }

  /** Polls until `test` holds for the state, the runner exits, or the time is up; true when it held. */
  async until(runner: Runner, test: (doc: MigrationDoc | null, partitions: PartitionDoc[]) => boolean, timeoutMs = 60_000, everyMs = 25): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !runner.done()) {
      const [doc, partitions] = await Promise.all([this.doc(), this.partitions()]);
      if (test(doc, partitions)) return true;
      await sleep(everyMs);
    }
    return false;
  }
}

/** The source's last majority-committed write: a tail whose saved position reaches it has applied everything. */
export async function sourceMajorityTime(source: MongoClient): Promise<Timestamp> {
  return ((await source.db('admin').command({ hello: 1 })).lastWrite as { majorityOpTime: { ts: Timestamp } }).majorityOpTime.ts;
}

/**
 * Runs tail slices (the CLI, or `slice` when given) until the saved position passes the source's last write
 * as of the call: a busy machine may need more than one short slice to drain a backlog, and comparing the
 * sides before that would report a destination that is only behind.
 */
export async function tailUntilCaughtUp(clients: { source: MongoClient; destination: MongoClient }, name: string, slice: () => Promise<void>): Promise<number> {
  const end = await sourceMajorityTime(clients.source);
  const store = new StateStore(clients.destination, name);
  for (let slices = 1; slices <= 20; slices++) {
    await slice();
    const doc = await store.get();
    const at = doc ? savedPositionTime(doc) : undefined;
    if (at && !at.lessThan(end)) return slices;
  }
  throw new Error(`migration ${name}: 20 tail slices did not reach the source's last write`);
}

/** A CLI tail slice that must end normally. */
export function cliTailSlice(file: string, seconds = 5, args: string[] = []): () => Promise<void> {
  return async () => {
    const exit = await runRunner(['tail', '--config', file, '--max-duration', `${seconds}s`, ...args]);
    if (exit.code !== 0) throw new Error(`tail slice exited with ${exit.code}: ${exit.stderr}`);
  };
}
