import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';

/**
 * Starts and controls real mongod processes on loopback: the test suite's replica sets, the demo's, and the
 * benchmark's. Members can be killed (SIGKILL), restarted on the same data, stepped down, and added.
 */
export interface LocalReplicaSetOptions {
  /** Replica set name; also names the data directories. */
  name: string;
  /** Path of a mongod binary (native or the Wine wrapper). */
  mongod: string;
  /** Parent directory of the members' data directories. */
  baseDir: string;
  members?: number;
  /** No --replSet: a standalone server (for topology checks). */
  standalone?: boolean;
  oplogSizeMB?: number;
  /** Enables access control with a root user (and a key file for the members). */
  auth?: { user: string; password: string };
  /** Extra mongod arguments for every member. */
  args?: string[];
}

export interface LocalMember {
  index: number;
  port: number;
  dbpath: string;
  logpath: string;
  process: ChildProcess | undefined;
}

const STARTUP_TIMEOUT_MS = 60_000;

export class LocalReplicaSet {
  readonly members: LocalMember[] = [];
  private constructor(private readonly options: LocalReplicaSetOptions) {}

  static async start(options: LocalReplicaSetOptions): Promise<LocalReplicaSet> {
    const set = new LocalReplicaSet(options);
    try {
      await set.boot();
    } catch (error) {
      await set.stop();
      throw error;
    }
    return set;
  }

  get name(): string {
    return this.options.name;
  }

  /** A connection string for the whole set (or the standalone), with the root user when auth is on. */
  get uri(): string {
    return this.uriFor(this.options.auth);
  }

  /** A connection string with other credentials (for least-privilege users), or none. */
  uriFor(credentials?: { user: string; password: string }): string {
    const hosts = this.members.map((m) => `127.0.0.1:${m.port}`).join(',');
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
    const query = this.options.standalone ? 'directConnection=true' : `replicaSet=${this.options.name}`;
    return `mongodb://${auth}${hosts}/?${query}`;
  }

  /** A direct connection to one member, bypassing discovery. */
  memberUri(index: number): string {
    const member = this.member(index);
    const auth = this.options.auth ? `${encodeURIComponent(this.options.auth.user)}:${encodeURIComponent(this.options.auth.password)}@` : '';
    return `mongodb://${auth}127.0.0.1:${member.port}/?directConnection=true`;
  }

  private async boot(): Promise<void> {
    const count = this.options.standalone ? 1 : (this.options.members ?? 1);
    const setDir = join(this.options.baseDir, this.options.name);
    rmSync(setDir, { recursive: true, force: true });
    mkdirSync(setDir, { recursive: true });
    if (this.options.auth) writeFileSync(join(setDir, 'keyfile'), 'mongoLiveMigrateLocalReplicaSetKey0123456789\n', { mode: 0o600 });
    for (let index = 0; index < count; index++) {
      const dbpath = join(setDir, `member-${index}`);
      mkdirSync(dbpath, { recursive: true });
      this.members.push({ index, port: await freePort(), dbpath, logpath: join(dbpath, 'mongod.log'), process: undefined });
    }
    await Promise.all(this.members.map((m) => this.launchFresh(m)));
    if (this.options.standalone) {
      if (this.options.auth) await this.createRootUser(0);
      return;
    }
    await this.withDirect(0, false, (client) =>
      client.db('admin').command({
        replSetInitiate: {
          _id: this.options.name,
          members: this.members.map((m) => ({ _id: m.index, host: `127.0.0.1:${m.port}`, priority: m.index === 0 ? 2 : 1 })),
          // Short timeouts make elections (at start and after a step-down) take seconds, not tens of seconds.
          settings: { electionTimeoutMillis: 2000, heartbeatIntervalMillis: 500 },
        },
      }),
    );
    await this.waitForPrimary();
    if (this.options.auth) await this.createRootUser(await this.primaryIndex());
  }

  private args(member: LocalMember): string[] {
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
    if (!this.options.standalone) args.push('--replSet', this.options.name, '--oplogSize', String(this.options.oplogSizeMB ?? 1024));
    if (this.options.auth) {
      args.push('--auth');
      if (!this.options.standalone) args.push('--keyFile', join(this.options.baseDir, this.options.name, 'keyfile'));
    }
    return [...args, ...(this.options.args ?? [])];
  }

  /**
   * Starts a member that is not yet in a replica set config, on another free port if it exits at once: the
   * port found free may be taken by another process before mongod binds it (seen once in a full CI run).
   */
  private async launchFresh(member: LocalMember): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch(member);
      } catch (error) {
        if (attempt >= 3 || !/exited \(/.test((error as Error).message)) throw error;
        member.port = await freePort();
      }
    }
  }

  private async launch(member: LocalMember): Promise<void> {
    const child = spawn(this.options.mongod, this.args(member), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    member.process = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`mongod on port ${member.port} exited (${signal ?? code}) while starting${this.fatalLines(member, stderr)}`))),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`mongod on port ${member.port} did not answer within ${STARTUP_TIMEOUT_MS / 1000}s${this.fatalLines(member, stderr)}`);
      const up = await Promise.race([this.ping(member), exited]);
      if (up) return;
      await sleep(100);
    }
  }

  private async ping(member: LocalMember): Promise<boolean> {
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
  private fatalLines(member: LocalMember, stderr: string): string {
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

  private async withDirect<T>(index: number, authenticated: boolean, use: (client: MongoClient) => Promise<T>): Promise<T> {
    const uri = authenticated ? this.memberUri(index) : `mongodb://127.0.0.1:${this.member(index).port}/?directConnection=true`;
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      return await use(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  private async createRootUser(index: number): Promise<void> {
    const { user, password } = this.options.auth!;
    // The localhost exception allows exactly this first user.
    await this.withDirect(index, false, (client) => client.db('admin').command({ createUser: user, pwd: password, roles: ['root'] }));
  }

  /** Index of the member that is primary now; waits (up to 60 s) for an election to finish. */
  async primaryIndex(): Promise<number> {
    return this.waitForPrimary();
  }

  private async waitForPrimary(): Promise<number> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      for (const member of this.members) {
        if (!member.process || member.process.exitCode !== null || member.process.signalCode !== null) continue;
        try {
          // hello needs no authentication, which matters before the first user exists.
          const hello = await this.withDirect(member.index, false, (c) => c.db('admin').command({ hello: 1 }));
          if (hello.isWritablePrimary) return member.index;
        } catch {
          // not up, or not primary yet
        }
      }
      await sleep(200);
    }
    throw new Error(`replica set ${this.options.name} elected no primary within ${STARTUP_TIMEOUT_MS / 1000}s`);
  }

  /** Asks the primary to step down and waits until another member is primary. */
  async stepDown(seconds = 10): Promise<{ from: number; to: number }> {
    const from = await this.primaryIndex();
    await this.withDirect(from, Boolean(this.options.auth), (c) =>
      c.db('admin').command({ replSetStepDown: seconds, secondaryCatchUpPeriodSecs: 5 }).catch((error: unknown) => {
        // The primary closes connections as it steps down; that is success, not failure.
        if (!/connection|closed|not primary|interrupted/i.test(String(error))) throw error;
      }),
    );
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const to = await this.primaryIndex();
      if (to !== from) return { from, to };
      if (Date.now() > deadline) throw new Error('no other member became primary after the step-down');
      await sleep(200);
    }
  }

  /** SIGKILL one member: no shutdown, no flush (a crash). */
  async killMember(index: number): Promise<void> {
    const member = this.member(index);
    const child = member.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
    member.process = undefined;
  }

  /** Starts a stopped member again on its own data directory. */
  async restartMember(index: number): Promise<void> {
    const member = this.member(index);
    if (member.process && member.process.exitCode === null && member.process.signalCode === null) return;
    await this.launch(member);
  }

  /** Adds a new member (empty data) and returns its index; it runs MongoDB's own initial sync. */
  async addMember(): Promise<number> {
    const setDir = join(this.options.baseDir, this.options.name);
    const index = this.members.length;
    const dbpath = join(setDir, `member-${index}`);
    rmSync(dbpath, { recursive: true, force: true });
    mkdirSync(dbpath, { recursive: true });
    const member: LocalMember = { index, port: await freePort(), dbpath, logpath: join(dbpath, 'mongod.log'), process: undefined };
    this.members.push(member);
    await this.launchFresh(member);
    const primary = await this.primaryIndex();
    await this.withDirect(primary, Boolean(this.options.auth), async (c) => {
      const { config } = await c.db('admin').command({ replSetGetConfig: 1 });
      config.version += 1;
      config.members.push({ _id: index, host: `127.0.0.1:${member.port}`, priority: 0, votes: 0 });
      await c.db('admin').command({ replSetReconfig: config });
    });
    return index;
  }

  /** The member's replica-set state: PRIMARY, SECONDARY, STARTUP2 (initial sync), ... */
  async memberState(index: number): Promise<string> {
    const primary = await this.primaryIndex();
    const status = await this.withDirect(primary, Boolean(this.options.auth), (c) => c.db('admin').command({ replSetGetStatus: 1 }));
    const port = this.member(index).port;
    const entry = (status.members as { name: string; stateStr: string }[]).find((m) => m.name.endsWith(`:${port}`));
    return entry?.stateStr ?? 'UNKNOWN';
  }

  /** Kills every member and removes the data directories. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    await Promise.all(this.members.map((m) => this.killMember(m.index)));
    if (!options.keepData) rmSync(join(this.options.baseDir, this.options.name), { recursive: true, force: true });
  }

  private member(index: number): LocalMember {
    const member = this.members[index];
    if (!member) throw new Error(`replica set ${this.options.name} has no member ${index}`);
    return member;
  }
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
