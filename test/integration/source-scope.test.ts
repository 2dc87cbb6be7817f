import { beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { dbHashes, testConfig, testPorts } from '../support/engine.js';

/**
 * The source's change stream is filtered on the server by the databases the migration reads (exact names when the
 * rules name them: see NamespaceFilter.sourceDatabaseCondition). What happens in other databases never arrives,
 * and a rename across the edge of the scope still moves the right data: the server performs it as a copy into a
 * temporary collection of the target database, a rename there, and a drop of the original, so a collection renamed
 * in arrives as inserts and one renamed out leaves as a drop.
 */
describe('the source stream reads the migrated databases, and renames across their edge', () => {
  const clients = useSharedClients();
  const db = uniqueName('scope');
  const outside = `${db}_out`;

  beforeAll(async () => {
    const { source } = clients;
    await source.db(db).collection<Document>('kept').insertMany(Array.from({ length: 20 }, (_, i): Document => ({ _id: i, v: i })));
    await source.db(db).collection<Document>('leaving').insertMany(Array.from({ length: 5 }, (_, i): Document => ({ _id: i })));
    await source.db(outside).collection<Document>('arriving').insertMany(Array.from({ length: 5 }, (_, i): Document => ({ _id: i })));
  });

  it('applies its own databases, drops what is renamed out, and copies what is renamed in', async () => {
    const { source, destination } = clients;
    const { sourceUri, destinationUri } = sharedClusters();
    const config = testConfig(uniqueName('mig').replace(/_/g, '-'), sourceUri, destinationUri, [db]);
    const sync = await runSync(config, {}, testPorts());
    expect(sync.exitCode).toBe(0);
    expect(sync.progress?.phase).toBe('tailing');

    await source.db(outside).collection<Document>('busy').insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i })));
    await source.db(db).collection<Document>('kept').updateMany({}, { $inc: { v: 100 } });
    await source.db('admin').command({ renameCollection: `${db}.leaving`, to: `${outside}.left` });
    const first = await runTail(config, { maxDurationMs: 3000 }, testPorts('scope-tail'));
    expect(first.exitCode).toBe(0);
    const [srcHashes, dstHashes] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dstHashes.kept).toBe(srcHashes.kept);
    expect((await destination.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['kept']);
    expect(await destination.db('admin').admin().listDatabases({ nameOnly: true }).then((r) => r.databases.map((d) => d.name))).not.toContain(outside);

    await source.db('admin').command({ renameCollection: `${outside}.arriving`, to: `${db}.arrived` });
    const second = await runTail(config, { maxDurationMs: 3000 }, testPorts('scope-tail-2'));
    expect(second.exitCode).toBe(0);
    const [srcAfter, dstAfter] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dstAfter).toEqual(srcAfter);
    expect(Object.keys(dstAfter).sort()).toEqual(['arrived', 'kept']);
  });
});
