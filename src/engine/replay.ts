import { BSON } from 'mongodb';
import { bytesOf } from '../mongo/raw-bson.js';
import { decodeChangeEvent, type ChangeEvent } from './capture/change-event.js';
import { EXACT_TYPES } from './copy/raw-insert.js';
import { buildProgress } from './progress.js';
import type { MigrationRun } from './run.js';
import type { BufferDoc } from './state/types.js';
import { newApplier, openReadHorizon } from './tail.js';

/** Events per applied batch, and a byte bound: buffered events may each be near 16 MB. */
const REPLAY_BATCH = 1000;
const REPLAY_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Applies the buffered changes in capture order from the saved replay point. The copy is done and capture
 * stopped, so the buffer is complete; its last event is where live tailing resumes. The buffer is read with
 * a cursor and applied in batches bounded in count and bytes, so memory stays bounded whatever was captured.
 */
export async function replayBuffer(run: MigrationRun): Promise<void> {
  const { store, ports } = run;
  const applier = newApplier(run, await openReadHorizon(run), undefined, true);
  const firstSeq = run.doc.replay.nextSeq;
  let nextSeq = firstSeq;
  const partitions = await store.partitionsOf();
  const save = async (last: ChangeEvent, extra: { $inc?: { eventsApplied: number } } = {}): Promise<void> => {
    run.lease.assertHeld();
    nextSeq = last.seq! + 1;
    const applied = { token: last.token, ...(last.wallTime ? { wallTime: last.wallTime } : {}) };
    // Through applier.terms: the data was written with w: 1 and this save makes it durable (apply/write-terms.ts).
    // Conditional on the lease: LeaseLostError when another runner took the migration over; stop writing.
    await applier.terms.save(store, ports.runner, { 'replay.nextSeq': nextSeq, applied, unresolved: applier.unresolved.toState() }, extra);
  };
  const cursor = store.buffer.find({ '_id.m': store.name, '_id.seq': { $gte: nextSeq } }, { ...EXACT_TYPES, batchSize: 64 }).sort({ '_id.m': 1, '_id.seq': 1 });
  try {
    let batch: ChangeEvent[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      await applier.apply(batch, (last) => save(last));
      await save(batch[batch.length - 1]!, { $inc: { eventsApplied: batch.length } });
      run.doc = await store.current();
      ports.onProgress?.(buildProgress(run.doc, partitions));
      batch = [];
      bytes = 0;
    };
    for await (const doc of cursor) {
      if (ports.signal.aborted) return;
      const event = bufferedEvent(doc);
      batch.push(event);
      bytes += event.raw.length;
      if (batch.length >= REPLAY_BATCH || bytes >= REPLAY_BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await cursor.close().catch(() => undefined);
  }
  if (!run.doc.applied) {
    // Nothing was captured during the copy: live changes start at the capture point.
    await store.update(ports.runner, { applied: { operationTime: run.doc.captureStart!.operationTime } });
  }
  ports.log.info({ replayed: nextSeq - firstSeq }, 'replay finished');
  await store.update(ports.runner, { 'replay.finishedAt': new Date() });
  await store.buffer.deleteMany({ '_id.m': store.name, '_id.seq': { $lt: nextSeq } });
  run.doc = await store.current();
}

/** A buffered event; one buffered by an earlier version (a decoded `event`) is encoded back. */
function bufferedEvent(doc: BufferDoc & { event?: BSON.Document }): ChangeEvent {
  const raw = doc.raw ? bytesOf(doc.raw) : Buffer.from(BSON.serialize({ ...doc.event, refetch: undefined }));
  const event = decodeChangeEvent(raw, Boolean(doc.refetch ?? doc.event?.refetch));
  event.seq = doc._id.seq;
  return event;
}

