import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { parseConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { validate } from '../../src/commands/validate.js';
import { freePort, type LocalReplicaSet } from '../../src/local/replica-set.js';
import type { CheckResult, CommandOutcome } from '../../src/model.js';
import { runCli } from '../support/cli.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';

// Passwords that must never appear in any output (the root password, and a wrong one).
const CANARY = 'Canary-Pa55word-c4e7';
const WRONG = 'Wr0ng-Canary-9b1d';

interface YamlOptions {
  include: string[];
  exclude?: string[];
  rename?: Record<string, string>;
  dropDestination?: boolean;
  writeBlock?: 'source' | 'none';
}

function yamlFor(o: YamlOptions): string {
  const rename = Object.entries(o.rename ?? {}).map(([k, v]) => `    "${k}": "${v}"`).join('\n');
  return [
    'version: 1',
    'name: checks-test',
    'source: { uri: "${SRC}" }',
    'destination: { uri: "${DST}" }',
    'namespaces:',
    `  include: ${JSON.stringify(o.include)}`,
    `  exclude: ${JSON.stringify(o.exclude ?? [])}`,
    rename ? `  rename:\n${rename}` : '  rename: {}',
    `sync: { dropDestination: ${o.dropDestination ?? false} }`,
    `cutover: { writeBlock: ${o.writeBlock ?? 'source'} }`,
  ].join('\n');
}

function configFor(src: string, dst: string, o: YamlOptions): Config {
  return parseConfig(yamlFor(o), 'migration.yaml', { env: { SRC: src, DST: dst } });
}

const byId = (outcome: CommandOutcome): Map<string, CheckResult> => new Map((outcome.checks ?? []).map((c) => [c.id, c]));
const status = (outcome: CommandOutcome, id: string): string | undefined => byId(outcome).get(id)?.status;
const quick = { connectTimeoutMs: 3000 };

describe('validate against real replica sets', () => {
  let authRs: LocalReplicaSet;
  let solo: LocalReplicaSet;
  let root: MongoClient;
  let soloClient: MongoClient;
  let shSrc: MongoClient;
  let shDst: MongoClient;
  const clients: MongoClient[] = [];
  const db = uniqueName('chk');
  const dstDb = uniqueName('chkdst');
  let dir: string;

  beforeAll(async () => {
    [authRs, solo] = await Promise.all([
      startOwnCluster({ name: 'chk-auth', auth: { user: 'root', password: CANARY }, oplogSizeMB: 1 }),
      startOwnCluster({ name: 'chk-solo', standalone: true }),
    ]);
    root = await connect(authRs.uri);
    soloClient = await connect(solo.uri);
    shSrc = await connect(sharedClusters().sourceUri);
    shDst = await connect(sharedClusters().destinationUri);
    clients.push(root, soloClient, shSrc, shDst);
    const admin = root.db('admin');
    await admin.command({ createUser: 'src_least', pwd: CANARY, roles: ['readAnyDatabase', 'clusterMonitor', 'backup'] });
    await admin.command({ createUser: 'dst_least', pwd: CANARY, roles: ['readWriteAnyDatabase', 'dbAdminAnyDatabase'] });
    await admin.command({ createUser: 'read_one', pwd: CANARY, roles: [{ role: 'read', db }] });
    await admin.command({ createUser: 'read_any', pwd: CANARY, roles: ['readAnyDatabase'] });
    // Clean data on the shared source: one collection of each supported kind, in this file's own databases.
    const s = shSrc.db(db);
    await s.createCollection('orders');
    await s.collection('orders').insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: i as never, n: i, nested: { a: 1 } })));
    await s.collection('orders').createIndex({ n: 1 }, { unique: true });
    await s.createCollection('events', { capped: true, size: 1 << 20 });
    await s.createCollection('clustered', { clusteredIndex: { key: { _id: 1 }, unique: true } });
    await s.createCollection('names', { collation: { locale: 'fr' } });
    await s.createCollection('big_orders', { viewOn: 'orders', pipeline: [{ $match: { n: { $gt: 100 } } }] });
    // Data on the auth set for the least-privilege users.
    await root.db(db).createCollection('items');
    await root.db(db).collection('items').insertMany([{ _id: 1 as never }, { _id: 2 as never }]);
    dir = mkdtempSync(join(tmpdir(), 'mlm-checks-'));
  });

  afterAll(async () => {
    await Promise.all([shSrc?.db(db).dropDatabase(), shDst?.db(dstDb).dropDatabase(), shDst?.db(db).dropDatabase()].map((p) => p?.catch(() => undefined)));
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([authRs?.stop(), solo?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes on two clean replica sets (only this file\'s databases selected)', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const outcome = await validate(configFor(sourceUri, destinationUri, { include: [`${db}.*`], rename: { [db]: dstDb } }), quick);
    const failed = outcome.checks!.filter((c) => c.status === 'fail');
    expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
    expect(outcome.exitCode).toBe(0);
    for (const id of ['source.connection', 'destination.connection', 'source.topology', 'destination.topology', 'source.version', 'destination.version', 'versions.upgrade-path', 'source.fcv', 'destination.conflicts', 'source.state-database', 'destination.disk', 'collections.supported', 'indexes.compatible', 'documents.field-names', 'namespaces.rules', 'source.transport', 'source.privileges', 'destination.privileges', 'source.users']) {
      expect(status(outcome, id), id).toBe('pass');
    }
    // The shared source's 1 GB oplog is barely used, but its few seconds of history were written in a burst
    // by the suite's setup, so the projected window may be under a day: never a failure, maybe a warning.
    expect(status(outcome, 'source.oplog-window'), byId(outcome).get('source.oplog-window')!.message).not.toBe('fail');
    const kinds = byId(outcome).get('collections.supported')!.message;
    expect(kinds).toMatch(/1 view/);
    expect(kinds).toMatch(/1 capped/);
    expect(kinds).toMatch(/1 clustered/);
    expect(kinds).toMatch(/1 collation/);
    expect(byId(outcome).get('source.fcv')!.message).toMatch(/must not change/);
  });

  it('lists every problem of a deliberately broken pair in one run', async () => {
    // Source: a standalone holding a time-series collection, a "$" field, a unique+non-unique key pair and
    // the reserved state database. Destination: a least-privileged user, and a target that holds data.
    const sdb = soloClient.db(db);
    await sdb.createCollection('metrics', { timeseries: { timeField: 't' } });
    await sdb.createCollection('docs');
    await sdb.collection('docs').insertOne({ _id: 1 as never, $weird: 1 } as never);
    await sdb.collection('docs').createIndex({ k: 1 }, { unique: true, name: 'k_unique' });
    await sdb.collection('docs').createIndex({ k: 1 }, { name: 'k_plain' });
    await soloClient.db('__mongo_live_migrate').collection('x').insertOne({});
    await root.db(db).createCollection('docs');
    await root.db(db).collection('docs').insertOne({ old: true });
    const destination = authRs.uriFor({ user: 'read_one', password: CANARY });
    const outcome = await validate(configFor(solo.uri, destination, { include: [`${db}.*`, 'nothing.here'] }), quick);
    expect(outcome.exitCode).toBe(1);
    for (const id of ['source.topology', 'source.oplog-window', 'source.state-database', 'collections.supported', 'indexes.compatible', 'documents.field-names', 'namespaces.rules', 'destination.privileges']) {
      expect(status(outcome, id), `${id}: ${byId(outcome).get(id)?.message}`).toBe('fail');
    }
    // read_one cannot list the destination's databases: the conflict check reports that it could not look.
    expect(status(outcome, 'destination.conflicts')).toBe('fail');
    expect(byId(outcome).get('source.topology')!.remedy).toMatch(/convert it to a replica set/);
    expect(byId(outcome).get('collections.supported')!.message).toMatch(/metrics \(time-series\)/);
    expect(byId(outcome).get('documents.field-names')!.message).toMatch(/_id 1/);
    expect(byId(outcome).get('namespaces.rules')!.message).toMatch(/"nothing\.here"/);
    await soloClient.db('__mongo_live_migrate').dropDatabase();
    await root.db(db).collection('docs').drop();
  });

  it('tells apart refused, unresolved, timed out, TLS and authentication failures', async () => {
    const { sourceUri } = sharedClusters();
    const closedPort = await freePort();
    const silent: Socket[] = [];
    const blackhole: Server = createServer((socket) => silent.push(socket)); // accepts and never answers
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const blackholePort = (blackhole.address() as { port: number }).port;
    const plainPort = authRs.members[0]!.port;
    try {
      const cases: [string, RegExp, RegExp][] = [
        [`mongodb://127.0.0.1:${closedPort}/?directConnection=true`, /connection refused/, /nothing listens/],
        ['mongodb://no-such-host.invalid:27017/?directConnection=true', /host name not resolved/, /does not resolve/],
        [`mongodb://127.0.0.1:${blackholePort}/?directConnection=true`, /timed out/, /firewalls/],
        [`mongodb://127.0.0.1:${plainPort}/?directConnection=true&tls=true`, /TLS failure/, /TLS handshake/],
        [authRs.uriFor({ user: 'root', password: WRONG }), /authentication failed/, /user name, the password/],
      ];
      const outcomes = await Promise.all(cases.map(([uri]) => validate(configFor(sourceUri, uri, { include: [`${db}.*`] }), { connectTimeoutMs: 2000 })));
      outcomes.forEach((outcome, i) => {
        const [uri, label, remedy] = cases[i]!;
        const check = byId(outcome).get('destination.connection')!;
        expect(check.status, uri).toBe('fail');
        expect(check.message, uri).toMatch(label);
        expect(check.remedy, uri).toMatch(remedy);
        expect(JSON.stringify(outcome)).not.toContain(WRONG);
        // Checks that need the destination say so instead of failing one by one.
        expect(byId(outcome).get('destination.topology')).toMatchObject({ status: 'skip', message: expect.stringMatching(/not run/) as string });
        expect(status(outcome, 'source.topology')).toBe('pass');
      });
    } finally {
      silent.forEach((s) => s.destroy());
      blackhole.close();
    }
  });

  it('least-privilege users pass the privilege checks and can really do what the migration does', async () => {
    const src = authRs.uriFor({ user: 'src_least', password: CANARY });
    const dst = authRs.uriFor({ user: 'dst_least', password: CANARY });
    const outcome = await validate(configFor(src, dst, { include: [`${db}.*`], rename: { [db]: dstDb } }), quick);
    expect(byId(outcome).get('source.privileges'), JSON.stringify(byId(outcome).get('source.privileges'))).toMatchObject({ status: 'pass' });
    expect(byId(outcome).get('destination.privileges'), JSON.stringify(byId(outcome).get('destination.privileges'))).toMatchObject({ status: 'pass' });

    // The roles really grant what the engine does (the table is only worth something if this holds).
    const s = await connect(src);
    const d = await connect(dst);
    clients.push(s, d);
    const stream = s.watch([], { fullDocument: 'updateLookup', showExpandedEvents: true });
    const first = stream.tryNext();
    await first;
    await stream.close();
    expect(await s.db('local').collection('oplog.rs').findOne({}, { sort: { $natural: -1 } })).toBeTruthy();
    await s.db('admin').command({ setUserWriteBlockMode: 1, global: true });
    await s.db('admin').command({ setUserWriteBlockMode: 1, global: false });
    const target = d.db(dstDb);
    await target.createCollection('v', { validator: { x: { $type: 'string' } } });
    await target.collection('v').insertOne({ x: 1 }, { bypassDocumentValidation: true });
    await target.collection('v').createIndex({ x: 1 }, { unique: true });
    await target.command({ collMod: 'v', validator: {} });
    await target.collection('v').drop();
    await d.db('__mongo_live_migrate').collection('migrations').insertOne({ probe: true });
    await root.db('__mongo_live_migrate').dropDatabase();
  });

  it('a user with read on one database fails and is told what is missing and which role grants it', async () => {
    const src = authRs.uriFor({ user: 'read_one', password: CANARY });
    const outcome = await validate(configFor(src, sharedClusters().destinationUri, { include: [`${db}.*`] }), quick);
    const check = byId(outcome).get('source.privileges')!;
    expect(check.status).toBe('fail');
    expect(check.message).toMatch(/changeStream on every database/);
    expect(check.message).toMatch(/find on local\.oplog\.rs .*clusterMonitor/);
    expect(check.message).toMatch(/setUserWriteBlockMode on the cluster .*backup/);
    expect(check.remedy).toMatch(/readAnyDatabase, clusterMonitor, backup/);
    // writeBlock: none does not need backup.
    const none = await validate(configFor(src, sharedClusters().destinationUri, { include: [`${db}.*`], writeBlock: 'none' }), quick);
    expect(byId(none).get('source.privileges')!.message).not.toMatch(/setUserWriteBlockMode/);

    // The matching rule agrees with the server: readAnyDatabase does not reach local.oplog.rs.
    const any = await connect(authRs.uriFor({ user: 'read_any', password: CANARY }));
    clients.push(any);
    await expect(any.db('local').collection('oplog.rs').findOne({})).rejects.toThrow(/not authorized/);
    const anyOutcome = await validate(configFor(authRs.uriFor({ user: 'read_any', password: CANARY }), sharedClusters().destinationUri, { include: [`${db}.*`] }), quick);
    expect(byId(anyOutcome).get('source.privileges')!.message).toMatch(/find on local\.oplog\.rs/);
    expect(byId(anyOutcome).get('source.privileges')!.message).not.toMatch(/changeStream/);
  });

  it('fails a short oplog window with the figures, passes a roomy one', async () => {
    const fill = root.db(uniqueName('fill')).collection('pad');
    await fill.insertOne({ first: true });
    for (let i = 0; i < 4; i++) await fill.insertMany(Array.from({ length: 500 }, () => ({ pad: 'x'.repeat(1000) })));
    const outcome = await validate(configFor(authRs.uri, sharedClusters().destinationUri, { include: [`${db}.*`] }), quick);
    const check = byId(outcome).get('source.oplog-window')!;
    expect(check.status, check.message).toBe('fail');
    expect(check.message).toMatch(/of 1\.0 MiB/);
    expect(check.message).toMatch(/it is full/);
    expect(check.remedy).toMatch(/replSetResizeOplog/);
    // The shared source has a 1 GB oplog barely used: not full, projected from its write rate, not a failure.
    const roomy = byId(await validate(configFor(sharedClusters().sourceUri, sharedClusters().destinationUri, { include: [`${db}.*`] }), quick)).get('source.oplog-window')!;
    expect(roomy.status, roomy.message).not.toBe('fail');
    expect(roomy.message).toMatch(/not full yet: at this rate it will hold/);
  });

  it('destination conflicts: fail on data, warn with dropDestination, pass when empty', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const cfg = (drop: boolean): Config => configFor(sourceUri, destinationUri, { include: [`${db}.orders`], rename: { [`${db}.orders`]: `${dstDb}.orders` }, dropDestination: drop });
    await shDst.db(dstDb).createCollection('orders');
    expect(status(await validate(cfg(false), quick), 'destination.conflicts')).toBe('pass'); // exists but empty
    await shDst.db(dstDb).collection('orders').insertOne({ stale: true });
    const conflicted = byId(await validate(cfg(false), quick)).get('destination.conflicts')!;
    expect(conflicted.status).toBe('fail');
    expect(conflicted.message).toContain(`${dstDb}.orders (1 document)`);
    expect(conflicted.remedy).toMatch(/dropDestination: true/);
    expect(status(await validate(cfg(true), quick), 'destination.conflicts')).toBe('warn');
    await shDst.db(dstDb).collection('orders').drop();
  });

  it('users and roles on the source are reported as not migrated', async () => {
    const outcome = await validate(configFor(authRs.uri, sharedClusters().destinationUri, { include: [`${db}.*`] }), quick);
    const check = byId(outcome).get('source.users')!;
    expect(check.status).toBe('warn');
    expect(check.message).toMatch(/5 users and 0 user-defined roles/);
    expect(check.remedy).toMatch(/createUser/);
  });

  it('documents with dotted nested names warn; rename collisions fail', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const other = uniqueName('chk2');
    await shSrc.db(other).createCollection('a');
    await shSrc.db(other).collection('a').insertOne({ _id: 'x1' as never, nested: { 'a.b': 1 } });
    await shSrc.db(other).createCollection('b');
    try {
      const outcome = await validate(configFor(sourceUri, destinationUri, { include: [`${other}.*`], rename: { [`${other}.a`]: `${other}.b` } }), quick);
      expect(byId(outcome).get('documents.field-names')).toMatchObject({ status: 'warn' });
      expect(byId(outcome).get('documents.field-names')!.message).toContain('"x1"');
      expect(byId(outcome).get('namespaces.rules')!.message).toMatch(/rename targets collide/);
      expect(status(outcome, 'namespaces.rules')).toBe('fail');
    } finally {
      await shSrc.db(other).dropDatabase();
    }
  });

  it('the CLI prints no password and no stack, in text and JSON, for a wrong password too', async () => {
    const file = join(dir, 'migration.yaml');
    writeFileSync(file, yamlFor({ include: [`${db}.*`] }));
    for (const dst of [authRs.uri, authRs.uriFor({ user: 'root', password: WRONG })]) {
      for (const command of ['validate', 'plan']) {
        for (const json of [[], ['--json']]) {
          const result = await runCli([command, '--config', file, ...json], { SRC: authRs.uri, DST: dst });
          const all = result.stdout + result.stderr;
          expect(all, `${command} ${json.join('')}`).not.toContain(CANARY);
          expect(all).not.toContain(WRONG);
          // A stack frame, not a wrapped line of a message that happens to start with "at".
          expect(all).not.toMatch(/\n\s+at (?:\S+ \()?(?:file:|node:|\/)\S*:\d+:\d+/);
          const wrong = dst !== authRs.uri;
          if (wrong) expect(result.code, `${command} with a wrong password`).toBe(1);
          if (wrong && command === 'plan') expect(result.stderr).toMatch(/authentication failed/);
          if (!wrong && command === 'plan') expect(result.code).toBe(0);
        }
      }
    }
  });
});
