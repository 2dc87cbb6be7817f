import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import type { LocalReplicaSetOptions } from './replica-set.js';

/** One mongod process of a LocalReplicaSet: its arguments, its start, and the port it listens on. */
export interface LocalMember {
  index: number;
  port: number;
  dbpath: string;
  logpath: string;
  process: ChildProcess | undefined;
}

/** How long a member, or an election, may take to come up. */
export const STARTUP_TIMEOUT_MS = 60_000;

/** The mongod arguments of one member. */
export function mongodArgs(options: LocalReplicaSetOptions, member: LocalMember): string[] {
  const args = [
    '--dbpath', member.dbpath,
    '--port', String(member.port),
    '--bind_ip', '127.0.0.1',
    '--logpath', member.logpath,
    '--logappend',
    // Required under Wine (the diagnostic-data thread crashes there); harmless natively.
    '--setParameter', 'diagnosticDataCollectionEnabled=false',
    '--wiredTigerCacheSizeGB', '0.25',
  ];
  if (!options.standalone) args.push('--replSet', options.name, '--oplogSize', String(options.oplogSizeMB ?? 1024));
  if (options.auth) {
    args.push('--auth');
    if (!options.standalone) args.push('--keyFile', join(options.baseDir, options.name, 'keyfile'));
  }
  return [...args, ...(options.args ?? [])];
}

/** Starts one member's mongod and waits until it answers (or says why it died). */
export async function launchMember(mongod: string, args: string[], member: LocalMember): Promise<void> {
  const child = spawn(mongod, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  member.process = child;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`mongod on port ${member.port} exited (${signal ?? code}) while starting${fatalLines(member, stderr)}`))),
  );
  exited.catch(() => undefined);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`mongod on port ${member.port} did not answer within ${STARTUP_TIMEOUT_MS / 1000}s${fatalLines(member, stderr)}`);
    const up = await Promise.race([ping(member), exited]);
    if (up) return;
    await sleep(100);
  }
}

async function ping(member: LocalMember): Promise<boolean> {
  const client = new MongoClient(`mongodb://127.0.0.1:${member.port}/?directConnection=true`, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** The fatal lines of a member's log, which say why a mongod died. */
function fatalLines(member: LocalMember, stderr: string): string {
  let log = '';
  try {
    log = readFileSync(member.logpath, 'utf8');
  } catch {
    // no log yet
  }
  const fatal = log.split('\n').filter((l) => l.includes('"s":"F"') || l.includes('"s":"E"')).slice(-5);
  const detail = [...fatal, stderr.trim()].filter(Boolean).join('\n');
  return detail ? `:\n${detail}` : ` (log: ${member.logpath})`;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
