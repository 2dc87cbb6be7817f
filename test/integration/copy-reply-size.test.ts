import { afterAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { cliTailSlice, runRunner, writeMigrationFile } from '../support/runner-process.js';

const MB = 1024 * 1024;
const DOC_BYTES = 64 * 1024;
/** The copy's insert and getMore target (copy-partition.ts BATCH_BYTES), and continuous verification's (partition-compare.ts). */
const COPY_BYTES = 2 * MB;
const VERIFY_BYTES = 4 * MB;

/** The profiler's entries for one collection, of one kind of operation. */
async function profiled(client: MongoClient, db: string, coll: string, op: string | Document): Promise<Document[]> {
  return client.db(db).collection('system.profile').find({ ns: `${db}.${coll}`, op }).sort({ ts: 1 }).toArray();
}

/**
 * Large documents: the copy's getMores ask for about 2 MB of them and its inserts carry about 2 MB, instead of the
 * server's 16 MB replies and 12 MB inserts (four partitions of 16 KB documents peaked at ~500 MB of RSS);
 * continuous verification reads ~4 MB at a time. Observed from outside, by each side's profiler.
 */
describe('a copy of large documents reads and writes them a few MB at a time', () => {
  const clients = useSharedClients();
  const profiledDbs: [MongoClient, string][] = [];
  afterAll(async () => {
    for (const [client, db] of profiledDbs) await client.db(db).command({ profile: 0 }).catch(() => undefined);
  });

  it('sizes each getMore from the documents read and each insert by bytes, and copies every byte', { timeout: 180_000 }, async () => {
    const db = uniqueName('replysize');
    const sdb = clients.source.db(db);
    const large = sdb.collection<{ _id: number; pad: string }>('large');
    const count = 400; // 400 × 64 KB: 26 MB, more than one 16 MB reply
    for (let n = 0; n < count; n += 50) await large.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: n + i, pad: 'x'.repeat(DOC_BYTES) })));
    await sdb.collection<{ _id: number; v: number }>('small').insertMany(Array.from({ length: 3000 }, (_, i) => ({ _id: i, v: i })));
    // Level 2 records every operation of the database (system.profile is a capped collection of each member alone).
    for (const client of [clients.source, clients.destination]) {
      await client.db(db).command({ profile: 2 });
      profiledDbs.push([client, db]);
    }

    const { sourceUri, destinationUri } = sharedClusters();
    const file = writeMigrationFile(uniqueName('replysize').replace(/_/g, '-'), sourceUri, destinationUri, [db], 'sync: { batchSize: 1000, parallelCollections: 1 }\n');
    const sync = await runRunner(['sync', '--config', file]);
    expect(sync.code, sync.stderr).toBe(0);
    await expectSidesEqual(clients.source, clients.destination, [db]);

    // Every read of the large collection by the runner (the copy, and continuous verification meanwhile): its first
    // batch and each getMore after it ask for a few MB. Before, a find asked for 1,000 and the server cut it at 16 MB.
    const reads = (await profiled(clients.source, db, 'large', { $in: ['query', 'getmore'] })).filter((r) => String(r.appName).startsWith('mongo-live-migrate'));
    const described = reads.map((r) => `${r.op} ${String(r.appName)}: ${r.nreturned} documents, ${r.responseLength} bytes`).join('; ');
    const copyReads = reads.filter((r) => !String(r.appName).includes('verifier'));
    // A find knows nothing of the size yet: it asks for 16 documents (raw-cursor.ts FIRST_SIZED_BATCH), and a
    // verification step that measured them for ~4 MB of them (63 of 64 KB).
    for (const r of reads.filter((q) => q.op === 'query')) expect(Number(r.nreturned), described).toBeLessThanOrEqual(64);
    const getMores = (from: Document[]): Document[] => from.filter((r) => r.op === 'getmore');
    for (const r of getMores(copyReads)) expect(Number(r.responseLength), described).toBeLessThanOrEqual(COPY_BYTES + DOC_BYTES + 1024);
    for (const r of getMores(reads)) expect(Number(r.responseLength), described).toBeLessThanOrEqual(VERIFY_BYTES + DOC_BYTES + 1024);
    expect(getMores(copyReads).length, described).toBeGreaterThanOrEqual(2);
    const perInsert = Math.floor(COPY_BYTES / (DOC_BYTES + 40)) + 1;
    const inserts = await profiled(clients.destination, db, 'large', 'insert');
    expect(inserts.reduce((sum, i) => sum + Number(i.ninserted), 0)).toBe(count);
    for (const i of inserts) expect(Number(i.ninserted)).toBeLessThanOrEqual(perInsert);
    // Small documents still go 1,000 to an insert.
    const smallInserts = await profiled(clients.destination, db, 'small', 'insert');
    expect(Math.max(...smallInserts.map((i) => Number(i.ninserted)))).toBe(1000);

    // Continuous verification's steps end at ~4 MB (the first knew nothing of the size and asked for 1,024
    // documents): they still cover every document, once each, and find nothing different.
    let verification: { complete?: boolean; documentsVerified?: number; mismatches?: number } | undefined;
    for (let slice = 0; slice < 8 && !verification?.complete; slice++) {
      await cliTailSlice(file, 3)();
      const status = await runRunner(['status', '--config', file, '--json']);
      expect(status.code, status.stderr).toBe(0);
      verification = (JSON.parse(status.stdout) as { progress: { verification?: typeof verification } }).progress.verification;
    }
    expect(verification).toMatchObject({ complete: true, documentsVerified: count + 3000, mismatches: 0 });

    // A step of a collection whose documents an earlier step measured asks for its whole batch at once on both
    // sides: the few documents a find asks for to learn their size cost one round trip more a side per step.
    const verifierFinds = async (client: MongoClient): Promise<Document[]> =>
      (await profiled(client, db, 'small', 'query')).filter((r) => String(r.appName).includes('verifier'));
    for (const [side, client] of [['source', clients.source], ['destination', clients.destination]] as const) {
      const finds = await verifierFinds(client);
      const returned = finds.map((r) => Number(r.nreturned));
      expect(Math.max(...returned), `${side}: the verifier's finds of small returned ${returned.join(', ')}`).toBeGreaterThan(64);
      for (const r of finds) expect(Number(r.responseLength)).toBeLessThanOrEqual(VERIFY_BYTES + 1024);
    }
  });
});
