import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { STARTUP_TIMEOUT_MS, freePort, launchMember, mongodArgs, type LocalMember } from './mongod-process.js';
import { errorMessage } from '../errors.js';

/** Starts of a restarted member before its early exit counts as an error (see restartMember). */
const RESTART_ATTEMPTS = 3;

export { freePort, type LocalMember };

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

  /**
   * Starts a member that is not yet in a replica set config, on another free port if it exits at once: the
   * port found free may be taken by another process before mongod binds it (seen once in a full CI run).
   */
  private async launchFresh(member: LocalMember): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launchMember(this.options.mongod, mongodArgs(this.options, member), member);
      } catch (error) {
        if (attempt >= 3 || !/exited \(/.test(errorMessage(error))) throw error;
        member.port = await freePort();
      }
    }
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
    let from = await this.primaryIndex();
    for (let attempt = 1; ; attempt++) {
      if ((await this.withDirect(from, Boolean(this.options.auth), (c) => requestStepDown(c, seconds))) === 'asked') break;
      if (attempt >= 5) throw new Error(`member ${from} refused the step-down ${attempt} times`);
      await sleep(500);
      from = await this.primaryIndex();
    }
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
    // Under Wine a member killed with SIGKILL can still hold its files for a moment (wineserver releases them once
    // it notices), and a mongod started at once exits: tried again a few times before its error counts.
    for (let attempt = 1; ; attempt++) {
      try {
        return await launchMember(this.options.mongod, mongodArgs(this.options, member), member);
      } catch (error) {
        if (attempt >= RESTART_ATTEMPTS || !/exited \(/.test(errorMessage(error))) throw error;
        await sleep(1000 * attempt);
      }
    }
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

/**
 * Asks the member `client` is directly connected to to step down. 'refused' when it is not primary (any more: an
 * election can fall between finding the primary and asking it) or none of its secondaries has caught up yet (a new
 * primary's first entries): the caller asks again, of whichever member is primary by then. The primary closes its
 * connections as it steps down, which is success, not failure; so is a primary already stepping down, or one that
 * stepped down for another request while this one waited.
 */
export async function requestStepDown(client: MongoClient, seconds: number): Promise<'asked' | 'refused'> {
  try {
    await client.db('admin').command({ replSetStepDown: seconds, secondaryCatchUpPeriodSecs: 5 });
    return 'asked';
  } catch (error) {
    if (/not (a )?primary|no electable secondaries caught up/i.test(String(error))) return 'refused';
    // Two requests at once: the second, waiting for a secondary to catch up, sees the first step the member down.
    if (/connection|closed|interrupted|already in the process of stepping down|decided to step down for other reasons/i.test(String(error))) return 'asked';
    throw error;
  }
}
