import { beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { runTail } from '../../src/commands/tail.js';
import { runVerify } from '../../src/commands/verify.js';
import { UserError } from '../../src/errors.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';
import { runRunner, StateWatch, writeMigrationFile } from '../support/runner-process.js';

/**
 * A migration is bound to the clusters it started on: the same `name` pointed at another source replica set
 * is refused before anything is written (no lease, no phase change, no "ready"), and a state document from
 * before the binding gets its clusters recorded on first open.
 */
describe('a migration is bound to its source', () => {
  const clients = useSharedClients();
  const db = uniqueName('bound');

  beforeAll(async () => {
    const { source } = clients;
    await source.db(db).createCollection('c');
    await source.db(db).collection<Document>('c').insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i })));
  });

  it('refuses another source with a clear error and leaves the state untouched', async () => {
    const { destination } = clients;
    const { sourceUri, destinationUri, rs3Uri } = sharedClusters();
    const name = uniqueName('bound').replace(/_/g, '-');
    const config = testConfig(name, sourceUri, destinationUri, [db]);
    expect((await runSync(config, {}, testPorts('bound-sync'))).exitCode).toBe(0);
    const watch = new StateWatch(destination, name);
    const before = (await watch.doc())!;
    expect(before.sourceCluster?.replicaSetId).toMatch(/^[0-9a-f]{24}$/);
    expect(before.sourceCluster?.setName).toBeTruthy();
    expect(before.destinationCluster?.setName).toBeTruthy();

    // The same name, another replica set as the source.
    const other = testConfig(name, rs3Uri, destinationUri, [db]);
    for (const attempt of [() => runTail(other, { maxDurationMs: 1000 }, testPorts('bound-other')), () => runSync(other, {}, testPorts('bound-other'))]) {
      const refused = attempt();
      await expect(refused).rejects.toBeInstanceOf(UserError);
      await expect(refused).rejects.toThrow(new RegExp(`migration "${name}" belongs to the source replica set "${before.sourceCluster!.setName}" \\(replicaSetId ${before.sourceCluster!.replicaSetId}\\), but the configured source is replica set`));
    }
    expect(await watch.doc()).toEqual(before);
    await expect(runVerify(other, {}, testPorts('bound-other'))).rejects.toThrow(/belongs to the source replica set/);

    // Through the CLI: a user mistake, exit 2, the reason and the remedy, no stack.
    const file = writeMigrationFile(name, rs3Uri, destinationUri, [db]);
    const cli = await runRunner(['tail', '--config', file, '--max-duration', '1s']);
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toMatch(/belongs to the source replica set/);
    expect(cli.stderr).toMatch(/hint: point source\.uri at the cluster the migration was started on/);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
    expect(await watch.doc()).toEqual(before);

    // A document from before the binding: recorded (the same clusters) on the next open.
    await destination.db('__mongo_live_migrate').collection('migrations').updateOne({ _id: name } as Document, { $unset: { sourceCluster: '', destinationCluster: '' } });
    expect((await runTail(config, { maxDurationMs: 500 }, testPorts('bound-tail'))).exitCode).toBe(0);
    const after = (await watch.doc())!;
    expect(after.sourceCluster).toEqual(before.sourceCluster);
    expect(after.destinationCluster).toEqual(before.destinationCluster);
    // ...and from then on the other source is refused again.
    await expect(runTail(other, { maxDurationMs: 500 }, testPorts('bound-other'))).rejects.toBeInstanceOf(UserError);
  });
});
