import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { cliTailSlice, runRunner, tailUntilCaughtUp, writeMigrationFile } from '../support/runner-process.js';

/**
 * The change path under kill -9 at each point of a batch that mixes DDL and data (a file of its own: its eight
 * rounds of CLI runners are the longest test of the change path, and run beside the others).
 */
describe('the change path under kill -9', () => {
  const clients = useSharedClients();

  // Eight rounds of a killed CLI tail plus the slices that finish its work: 260 s in the last CI run.
  it('kill -9 at every point of a batch that mixes DDL and data: each rerun converges', { timeout: 480_000 }, async () => {
    const { source, destination } = clients;
    const db = uniqueName('ddlcrash');
    const sdb = source.db(db);
    await sdb.createCollection('live');
    await sdb.collection('live').insertMany(Array.from({ length: 1200 }, (_, i): Document => ({ _id: i, gen: 0 })));
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('ddlcrash').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db]);
    const first = await runRunner(['sync', '--config', file]);
    expect(first.code, first.stderr).toBe(0);
    const points = ['apply:data-applied#1', 'apply:ddl-before#1', 'apply:ddl-before#3', 'apply:ddl-applied#1', 'apply:ddl-applied#2', 'apply:ddl-applied#3', 'apply:ddl-applied#4', 'tail:batch-applied#1'];
    for (const [round, point] of points.entries()) {
      // The classic swap, with data before and after it, while no runner runs: one batch for the next tail.
      const gen = round + 1;
      await sdb.collection('live').insertOne({ _id: `before-${gen}`, gen } as Document);
      await sdb.createCollection('live_new');
      await sdb.collection('live_new').insertMany(Array.from({ length: 1200 + gen }, (_, i): Document => ({ _id: i, gen })));
      await sdb.collection('live_old').drop().catch(() => undefined);
      await source.db('admin').command({ renameCollection: `${db}.live`, to: `${db}.live_old` });
      await source.db('admin').command({ renameCollection: `${db}.live_new`, to: `${db}.live`, dropTarget: true });
      await sdb.collection('live').insertOne({ _id: `after-${gen}`, gen } as Document);
      await sdb.collection('live_old').updateOne({ _id: 0 } as Document, { $set: { touched: gen } });
      const killed = await runRunner(['tail', '--config', file, '--max-duration', '20s'], { MLM_FAILPOINT: point });
      expect(killed.signal, `${point}: ${killed.stderr}`).toBe('SIGKILL');
      await tailUntilCaughtUp(clients, name, cliTailSlice(file, 3, ['--force-takeover']));
      await expectSidesEqual(source, destination, [db]);
    }
    expect(await destination.db(db).collection('live').countDocuments()).toBe(1200 + points.length + 1);
  });
});
