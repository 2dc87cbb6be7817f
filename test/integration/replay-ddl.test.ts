import { afterEach, describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { setPausePoint } from '../../src/engine/failpoints.js';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { recordingPorts, testConfig } from '../support/engine.js';

/**
 * DDL captured while the copy runs is replayed onto what the copy made, which is later than the DDL: a collection
 * changed and then dropped on the source before the copy read its catalog is not on the destination when its change
 * is replayed. Each such step must find its result already there (the drop that follows is replayed too), not stop
 * the sync. Found by the change-path fuzzer (seed 549293386): a replayed collMod failed with "ns does not exist".
 */
describe('DDL replayed onto a copy made after it', () => {
  const clients = useSharedClients();
  afterEach(() => setPausePoint('plan-catalog', undefined));

  it('a collection modified, indexed or unindexed, then dropped before the copy is planned: the sync ends, the sides equal', { timeout: 120_000 }, async () => {
    const { source, destination } = clients;
    const db = uniqueName('replayddl');
    const sdb = source.db(db);
    for (const coll of ['kept', 'modified', 'indexed', 'unindexed']) {
      await sdb.collection<Document>(coll).insertMany(Array.from({ length: 50 }, (_, i): Document => ({ _id: i, n: i })));
    }
    await sdb.collection('unindexed').createIndex({ n: 1 }, { name: 'n_1' });
    const majority = { writeConcern: { w: 'majority' } };
    setPausePoint('plan-catalog', async () => {
      setPausePoint('plan-catalog', undefined);
      // After the capture point, before the catalog is read: the copy never sees these collections.
      await sdb.command({ collMod: 'modified', validator: { n: { $exists: true } }, validationLevel: 'moderate', ...majority });
      await sdb.command({ createIndexes: 'indexed', indexes: [{ key: { n: -1 }, name: 'n_-1' }], ...majority });
      await sdb.command({ dropIndexes: 'unindexed', index: 'n_1', ...majority });
      for (const coll of ['modified', 'indexed', 'unindexed']) await sdb.command({ drop: coll, ...majority });
    });
    const config = testConfig(uniqueName('replayddl').replace(/_/g, '-'), sharedClusters().sourceUri, sharedClusters().destinationUri, [db]);
    const recorder = recordingPorts('replay-ddl');
    const sync = await runSync(config, {}, recorder.ports);
    expect(sync.exitCode, recorder.lines().slice(-20).join('\n')).toBe(0);
    expect((await destination.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['kept']);
    await expectSidesEqual(source, destination, [db]);
  });
});
