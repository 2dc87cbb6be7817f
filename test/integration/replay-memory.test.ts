import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { sharedClusters, uniqueName, useSharedClients } from '../support/clusters.js';
import { expectSidesEqual } from '../support/exact.js';
import { startRunner, StateWatch, writeMigrationFile } from '../support/runner-process.js';

/** Resident memory of a process now (VmRSS), in MB; undefined once it has exited. */
function rssMb(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.replace(/\D+/g, '')) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

describe('replay memory', () => {
  const clients = useSharedClients();

  it("stays bounded while large events are buffered and replayed (read by cursor, applied in batches bounded in bytes)", { timeout: 240_000 }, async () => {
    const { source, destination } = clients;
    const db = uniqueName('replaymem');
    const sdb = source.db(db);
    await sdb.createCollection('filler');
    await sdb.createCollection('big');
    for (let i = 0; i < 60_000; i += 10_000) await sdb.collection('filler').insertMany(Array.from({ length: 10_000 }, (_, j): Document => ({ _id: i + j, pad: 'f'.repeat(200) })));
    await sdb.collection('big').insertMany(Array.from({ length: 4 }, (_, i): Document => ({ _id: i, payload: 'x' })));
    const { sourceUri, destinationUri } = sharedClusters();
    const name = uniqueName('replaymem').replace(/_/g, '-');
    const file = writeMigrationFile(name, sourceUri, destinationUri, [db], 'sync: { batchSize: 100, parallelCollections: 1 }\n');
    const runner = startRunner(['sync', '--config', file]);
    const watch = new StateWatch(destination, name);
    expect(await watch.until(runner, (_doc, partitions) => partitions.some((p) => p.documentsCopied > 0), 60_000)).toBe(true);
    // While the copy runs: 30 updates that each make a ~4 MB change event (the document is looked up whole).
    let buffered = 0;
    for (let i = 0; i < 30; i++) {
      await sdb.collection('big').updateOne({ _id: i % 4 } as Document, { $set: { payload: String.fromCharCode(97 + (i % 26)).repeat(4 * 1024 * 1024) } });
      buffered += 4;
    }
    // Memory while the buffer is replayed, against memory as replay starts: holding the buffered events at
    // once (as a toArray of the buffer did) would add at least their size; batches bounded in bytes add little.
    let atStart: number | undefined;
    let peak = 0;
    while (!runner.done()) {
      const replaying = (await watch.doc())?.step === 'replay';
      const now = rssMb(runner.child.pid!);
      if (replaying && now !== undefined) {
        atStart ??= now;
        peak = Math.max(peak, now);
      }
      await sleep(50);
    }
    const exit = await runner.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const doc = await watch.doc();
    const growth = peak - (atStart ?? peak);
    console.log(`[replay-memory] figure: ${buffered} MB of change events buffered during the copy, ${doc?.replay.nextSeq ?? 0} replayed; runner memory grew ${growth.toFixed(0)} MB during replay (${(atStart ?? 0).toFixed(0)} → ${peak.toFixed(0)} MB)`);
    expect(doc?.replay.nextSeq ?? 0).toBeGreaterThanOrEqual(10);
    expect(atStart, 'replay was observed').toBeDefined();
    expect(growth).toBeLessThan(buffered / 2);
    await expectSidesEqual(source, destination, [db]);
  });
});
