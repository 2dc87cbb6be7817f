import { describe, expect, it } from 'vitest';
import { Decimal128, Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { runRunner, writeMigrationFile } from '../support/runner-process.js';

/**
 * A copy killed after a saved batch resumes after the last `_id` it copied, and that `_id` must be the same value
 * when read back: an embedded document whose field names look like integers ({"10": …, "9": …}) comes back from
 * a JS object with "9" first, a different `_id` that sorts after every document of the collection, and a resume
 * after it found nothing more to copy (900 of 1,000 documents missing, sync exit 0, before the fix). The other collection resumes
 * through every number type the server orders together, a Long beyond 2^53 among them.
 */
describe('a copy resumed after kill -9 goes on after the exact last _id', () => {
  const clients = useSharedClients();

  it('copies every document after a kill in each collection, whatever the _id', { timeout: 180_000 }, async () => {
    const db = uniqueName('resumeid');
    const sdb = clients.source.db(db);
    await sdb.collection('objects').insertMany(Array.from({ length: 1000 }, (_, i): Document => new Map<string, unknown>([['_id', new Map<string, unknown>([['10', i], ['9', 0]])], ['i', i]]) as unknown as Document));
    const big = 2n ** 53n;
    const numbers: unknown[] = [];
    for (let i = 0; i < 250; i++) numbers.push(new Int32(i), Long.fromBigInt(big + BigInt(2 * i + 1)), new Double(1000 + i + 0.5), Decimal128.fromString(`${5000 + i}.25`));
    await sdb.collection('numbers').insertMany(numbers.map((id, i): Document => ({ _id: id, i })));
    await sdb.collection('numbers').insertMany(Array.from({ length: 100 }, (_, i): Document => ({ _id: new ObjectId(), i })));

    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('resumeid').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { batchSize: 100, parallelCollections: 1 }\n');
    // Killed after the second saved batch of each run: the next run resumes in the middle of a partition.
    for (let run = 0; run < 6; run++) {
      const killed = await runRunner(['sync', '--config', file, '--force-takeover'], { MLM_FAILPOINT: 'copy:batch-saved#2' });
      if (killed.signal !== 'SIGKILL') {
        expect(killed.code, killed.stderr).toBe(0);
        break;
      }
    }
    const finished = await runRunner(['sync', '--config', file, '--force-takeover']);
    expect(finished.code, finished.stderr).toBe(0);
    expect(await clients.destination.db(db).collection('objects').countDocuments()).toBe(1000);
    expect(await clients.destination.db(db).collection('numbers').countDocuments()).toBe(1100);
    await expectSidesEqual(clients.source, clients.destination, [db]);
  });

  it('splits a collection of such _ids into ranges that each hold a share of it, and copies every document once', { timeout: 180_000 }, async () => {
    // Split points sampled from the collection were decoded into JS objects: {"9": …, "10": …}, a value that sorts
    // after every document, so the first range held the whole collection and the others nothing (no parallel copy).
    const db = uniqueName('splitid');
    const count = 3000;
    await clients.source.db(db).collection('objects').insertMany(Array.from({ length: count }, (_, i): Document => new Map<string, unknown>([['_id', new Map<string, unknown>([['10', i], ['9', 0]])], ['pad', 'p'.repeat(1200)]]) as unknown as Document));
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('splitid').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { partitionSizeMB: 1 }\n');
    const sync = await runRunner(['sync', '--config', file]);
    expect(sync.code, sync.stderr).toBe(0);
    await expectSidesEqual(clients.source, clients.destination, [db]);
    const partitions = await clients.destination.db('__mongo_live_migrate').collection('partitions').find({ migration: name }).toArray();
    const copied = partitions.map((p) => Number(p.documentsCopied));
    expect(partitions.length, JSON.stringify(copied)).toBeGreaterThanOrEqual(3);
    expect(copied.reduce((a, b) => a + b, 0)).toBe(count);
    // A sample of a few hundred _ids: each range holds well over a tenth of its even share.
    for (const n of copied) expect(n, JSON.stringify(copied)).toBeGreaterThan(count / partitions.length / 10);
  });
});
