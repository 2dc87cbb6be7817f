import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { runSync } from '../../src/commands/sync.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';
import { testConfig, testPorts } from '../support/engine.js';

// Issue 15: --max-duration is documented for sync and tail alike (CLI help, action.yml): a sync run stops when
// it expires, saving what it copied, and the next sync continues to the end.
describe('sync --max-duration', () => {
  let source: MongoClient;
  let destination: MongoClient;
  const db = uniqueName('syncbox');

  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    source = await connect(sourceUri);
    destination = await connect(destinationUri);
    await source.db(db).collection('items').insertMany(Array.from({ length: 20_000 }, (_, i) => ({ i, pad: 'x'.repeat(200) })));
  });

  afterAll(async () => {
    await source?.db(db).dropDatabase().catch(() => undefined);
    await destination?.db(db).dropDatabase().catch(() => undefined);
    await source?.close();
    await destination?.close();
  });

  it('pauses when the time box expires and the next run finishes the copy', async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const config = testConfig(uniqueName('box').replace(/_/g, '-'), sourceUri, destinationUri, [db], 'sync: { batchSize: 200, partitionSizeMB: 1, parallelCollections: 1 }\n');
    const first = await runSync(config, { maxDurationMs: 1 }, testPorts());
    expect(first.exitCode).toBe(0);
    expect(first.summary).toMatch(/paused/);
    expect(first.continue).toBe(true);
    const second = await runSync(config, {}, testPorts());
    expect(second.exitCode).toBe(0);
    expect(second.progress?.phase).toBe('tailing');
    expect(await destination.db(db).collection('items').countDocuments()).toBe(20_000);
  }, 180_000);
});
