import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Int32, type Document, type MongoClient } from 'mongodb';
import { requiredRoles } from '../../src/checks/required-privileges.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { runChildCli, writeConfigFile } from '../support/child-runner.js';
import { connect, startOwnCluster, uniqueName } from '../support/clusters.js';
import { dbHashes, testConfig } from '../support/engine.js';

/**
 * Least privilege: auth-enabled source and destination, and users that hold exactly the roles
 * src/checks/required-privileges.ts names (and the README lists) — nothing more. A whole migration runs with
 * them through the CLI: validate → sync (under a writer) → tail → cutover → verify → abort, every step exit 0,
 * and the destination equals the source (compared with root clients: dbHash needs more than these users hold).
 */
describe('least privilege: a full migration with users holding only the documented roles', () => {
  const rootPassword = `root-${randomBytes(6).toString('hex')}`;
  const password = `mig-${randomBytes(6).toString('hex')}`;
  let src: LocalReplicaSet;
  let dst: LocalReplicaSet;
  let sourceRoot: MongoClient;
  let destinationRoot: MongoClient;
  const roles = { source: [] as string[], destination: [] as string[] };

  beforeAll(async () => {
    // Its own source (cutover write-blocks the whole cluster) and its own destination (auth on).
    [src, dst] = await Promise.all([
      startOwnCluster({ name: 'lp-src', auth: { user: 'root', password: rootPassword } }),
      startOwnCluster({ name: 'lp-dst', auth: { user: 'root', password: rootPassword } }),
    ]);
    sourceRoot = await connect(src.uri);
    destinationRoot = await connect(dst.uri);
    // The roles for the default configuration (cutover.writeBlock: source), straight from the module.
    const config = testConfig('lp-roles', 'mongodb://x', 'mongodb://y', ['x']);
    roles.source = requiredRoles('source', config);
    roles.destination = requiredRoles('destination', config);
    await sourceRoot.db('admin').command({ createUser: 'migrator', pwd: password, roles: roles.source.map((role) => ({ role, db: 'admin' })) });
    await destinationRoot.db('admin').command({ createUser: 'migrator', pwd: password, roles: roles.destination.map((role) => ({ role, db: 'admin' })) });
  });

  afterAll(async () => {
    await sourceRoot?.db('admin').command({ setUserWriteBlockMode: 1, global: false }).catch(() => undefined);
    await sourceRoot?.close();
    await destinationRoot?.close();
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('validate, sync, tail, cutover, verify and abort all succeed; both sides equal', async () => {
    expect(roles.source).toEqual(['readAnyDatabase', 'clusterMonitor', 'backup']);
    expect(roles.destination).toEqual(['readWriteAnyDatabase', 'dbAdminAnyDatabase']);
    const db = uniqueName('lp');
    const shop = sourceRoot.db(db);
    // What needs more than plain reads and writes: a validator (bypassDocumentValidation), a unique and a
    // TTL index (relaxed during sync, restored with collMod at cutover), and a view.
    await shop.createCollection('orders', { validator: { $jsonSchema: { required: ['sku'] } } });
    await shop.createCollection('events');
    await shop.collection<Document>('orders').insertMany(Array.from({ length: 3000 }, (_, i): Document => ({ _id: i, sku: `s${i}`, n: new Int32(i) })));
    await shop.collection<Document>('orders').createIndex({ sku: 1 }, { unique: true, name: 'sku' });
    await shop.collection<Document>('events').insertMany(Array.from({ length: 500 }, (_, i): Document => ({ _id: i, at: new Date() })));
    await shop.collection<Document>('events').createIndex({ at: 1 }, { expireAfterSeconds: 3600, name: 'ttl' });
    await shop.createCollection('big_orders', { viewOn: 'orders', pipeline: [{ $match: { n: { $gt: 100 } } }] });

    const name = uniqueName('lp').replace(/_/g, '-');
    const file = writeConfigFile(name, [db], 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n');
    const env = { SOURCE_URI: src.uriFor({ user: 'migrator', password }), DESTINATION_URI: dst.uriFor({ user: 'migrator', password }) };
    const step = async (args: string[]): Promise<string> => {
      const result = await runChildCli([...args, '--config', file], env);
      expect(result.code, `${args[0]}: ${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    };

    await step(['validate']);
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) await shop.collection<Document>('orders').updateOne({ _id: n % 3000 } as Document, { $set: { touched: n } });
    })();
    await step(['sync']);
    await step(['tail', '--max-duration', '3s']);
    writing = false;
    await writer;
    await step(['tail', '--max-duration', '2s']);
    const cutover = await step(['cutover', '--confirm', name]);
    expect(cutover).toMatch(/committed/);
    const verify = JSON.parse(await step(['verify', '--json'])) as { exitCode: number };
    expect(verify.exitCode).toBe(0);

    // Equal by the server's own hash, read as root; indexes restored (unique and TTL as on the source).
    expect(await dbHashes(destinationRoot, db)).toEqual(await dbHashes(sourceRoot, db));
    const ttl = (await destinationRoot.db(db).collection('events').listIndexes().toArray()).find((i) => i.name === 'ttl');
    expect(ttl?.expireAfterSeconds).toBe(3600);
    const sku = (await destinationRoot.db(db).collection('orders').listIndexes().toArray()).find((i) => i.name === 'sku');
    expect(sku?.unique).toBe(true);

    // abort lifts the source write block with the same least-privileged user.
    await step(['abort', '--confirm', name]);
    await sourceRoot.db(db).collection<Document>('orders').insertOne({ _id: 'after-abort', sku: 'after-abort' } as Document);
    console.log(`[least-privilege] figure: source ${roles.source.join(' + ')}; destination ${roles.destination.join(' + ')}`);
  });
});
