import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Double, Int32, type MongoClient } from 'mongodb';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { runVerify } from '../../src/commands/verify.js';
import { commandImpl } from '../../src/commands/index.js';
import { renderVerifyMarkdown, renderVerifyText } from '../../src/report/verify-render.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { runCli } from '../support/cli.js';

// The destination is a replica set of this file's own: the test writes migration state into
// __mongo_live_migrate, which other test files create on the shared destination at the same time
// (racing the creation of one namespace crashes mongod under Wine).
let own: LocalReplicaSet;
let source: MongoClient;
let destination: MongoClient;
const db = uniqueName('verify');
const name = 'verify-cmd';
const ROOT_PASSWORD = 'r00t-Secret-pw';
const VERIFIER_PASSWORD = 'v3rifier-Secret-pw';

beforeAll(async () => {
  own = await startOwnCluster({ name: 'verify-dst', auth: { user: 'root', password: ROOT_PASSWORD } });
  source = await connect(sharedClusters().sourceUri);
  destination = await connect(own.uri);
  for (const client of [source, destination]) {
    await client.db(db).createCollection('users');
    const users = client.db(db).collection('users');
    await users.createIndex({ email: 1 }, { name: 'email', unique: client === source });
    await users.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: new Int32(i) as never, email: `u${i}@x`, score: new Int32(i) })));
  }
});
afterAll(async () => {
  await Promise.all([source?.close(), destination?.close()]);
  await own?.stop();
});

function configYaml(verify: 'hash' | 'count' | 'none'): string {
  return [
    'version: 1',
    `name: ${name}`,
    'source: { uri: "${SRC}" }',
    'destination: { uri: "${DST}" }',
    `namespaces: { include: ["${db}.*"] }`,
    `cutover: { verify: ${verify} }`,
  ].join('\n');
}

function config(verify: 'hash' | 'count' | 'none' = 'hash', destinationUri = own.uri) {
  return parseConfig(configYaml(verify), 'migration.yaml', { env: { SRC: sharedClusters().sourceUri, DST: destinationUri } });
}

const ports = (): EnginePorts => ({ log: silentLogger, signal: new AbortController().signal, runner: 'test' });
const state = () => destination.db('__mongo_live_migrate');

describe('the verify command', () => {
  it('is registered, and without migration state says its results are approximate', async () => {
    expect(commandImpl('verify')).toBe(runVerify);
    // The relaxed unique index is not known as relaxed without state: a mismatch.
    const outcome = await runVerify(config(), {}, ports());
    expect(outcome.exitCode).toBe(1);
    expect(outcome.verification?.exact).toBe(false);
    expect(outcome.summary).toBe(
      `verified 1 collection (hash): 1 mismatch in 1 collection (approximate: the source is still changing — no state of migration "${name}" on the destination; the verification at cutover is exact)`,
    );
    expect(outcome.verification?.mismatches[0]).toMatchObject({ kind: 'index', detail: expect.stringContaining('index email differs: unique: source true, destination (absent)') });
  });

  it('while tailing, accepts the indexes the engine relaxed and reports them as notes', async () => {
    await state().createCollection('migrations');
    await state().createCollection('relaxed_indexes');
    await state().collection('migrations').insertOne({ _id: name as never, phase: 'tailing' });
    await state().collection('relaxed_indexes').insertOne({ migration: name, target: `${db}.users`, name: 'email', original: { key: { email: 1 }, name: 'email', unique: true }, restored: false });
    const outcome = await runVerify(config(), {}, ports());
    expect(outcome.exitCode).toBe(0);
    expect(outcome.summary).toMatch(/^verified 1 collection \(hash\): equal \(approximate: the source is still changing — the migration is tailing;/);
    expect(outcome.verification?.notes).toEqual([expect.stringContaining('index email is still relaxed')]);
    expect(outcome.verification?.collections[0]).toMatchObject({ method: 'count+dbHash', sourceCount: 30, targetCount: 30, equal: true });

    const text = renderVerifyText(outcome.verification!).join('\n');
    expect(text).toContain('APPROXIMATE: the source is still changing');
    expect(text).toContain(`ok    ${db}.users  docs 30/30  count+dbHash`);
    expect(renderVerifyMarkdown(outcome.verification!)).toContain('> [!WARNING]');
  });

  it('when committed, is exact: a still-relaxed index and a changed document fail it (exit 1), named by _id', async () => {
    await state().collection('migrations').updateOne({ _id: name as never }, { $set: { phase: 'committed' } });
    await destination.db(db).collection('users').updateOne({ _id: new Int32(7) as never }, { $set: { score: new Double(7) } });
    const outcome = await runVerify(config(), {}, ports());
    expect(outcome.exitCode).toBe(1);
    expect(outcome.verification?.exact).toBe(true);
    expect(outcome.summary).toBe('verified 1 collection (hash): 2 mismatches in 1 collection');
    expect(outcome.verification?.mismatches.map((m) => [m.kind, m.ids])).toEqual([
      ['index', undefined],
      ['content', ['7']],
    ]);
    const markdown = renderVerifyMarkdown(outcome.verification!);
    expect(markdown).not.toContain('[!WARNING]');
    expect(markdown).toContain('**content**');
    expect(markdown).toContain('`_id`: `7`');
  });

  it('takes its mode from cutover.verify (none: counts, which cannot see a type change)', async () => {
    for (const verify of ['count', 'none'] as const) {
      const outcome = await runVerify(config(verify), {}, ports());
      expect(outcome.verification?.mode).toBe('count');
      expect(outcome.verification?.mismatches.map((m) => m.kind)).toEqual(['index']);
    }
  });

  it('falls back to a streamed client-side hash where dbHash is refused, finds the same differences, and leaks no password', async () => {
    // A user who may read everything verify reads, but not run dbHash (the built-in read role would allow it).
    await destination.db('admin').command({
      createRole: 'verifyWithoutDbHash',
      privileges: [
        { resource: { db, collection: '' }, actions: ['find', 'listCollections', 'listIndexes'] },
        { resource: { db: '__mongo_live_migrate', collection: '' }, actions: ['find'] },
      ],
      roles: [],
    });
    await destination.db('admin').command({ createUser: 'verifier', pwd: VERIFIER_PASSWORD, roles: ['verifyWithoutDbHash'] });
    const limited = own.uri.replace(`root:${ROOT_PASSWORD}@`, `verifier:${VERIFIER_PASSWORD}@`);
    expect(limited).not.toBe(own.uri);

    const outcome = await runVerify(config('hash', limited), {}, ports());
    expect(outcome.exitCode).toBe(1);
    expect(outcome.verification?.collections[0]?.method).toMatch(/^count\+client-hash \(dbHash refused: destination: Unauthorized/);
    expect(outcome.verification?.mismatches.map((m) => [m.kind, m.ids])).toEqual([
      ['index', undefined],
      ['content', ['7']],
    ]);
    const everything = JSON.stringify(outcome) + renderVerifyText(outcome.verification!).join('\n') + renderVerifyMarkdown(outcome.verification!);
    expect(everything).not.toContain(VERIFIER_PASSWORD);
    expect(everything).not.toContain(ROOT_PASSWORD);
  });

  it('from the command line: exit 1 with the mismatches and their _ids, in text and in --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-cli-'));
    try {
      const file = join(dir, 'migration.yaml');
      writeFileSync(file, configYaml('hash'));
      const env = { SRC: sharedClusters().sourceUri, DST: own.uri };
      const text = await runCli(['verify', '--config', file], env);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('verified 1 collection (hash): 2 mismatches in 1 collection');
      expect(text.stdout).toContain('7');
      const json = await runCli(['verify', '--config', file, '--json'], env);
      expect(json.code).toBe(1);
      const outcome = JSON.parse(json.stdout) as { command: string; verification: { exact: boolean; mismatches: { kind: string; ids?: string[] }[] } };
      expect(outcome.command).toBe('verify');
      expect(outcome.verification.exact).toBe(true);
      expect(outcome.verification.mismatches.find((m) => m.kind === 'content')?.ids).toEqual(['7']);
      for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) expect(output).not.toContain(ROOT_PASSWORD);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
