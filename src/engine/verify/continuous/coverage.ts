import { decodeIdKey, formatId } from '../../../mongo/raw-bson.js';
import type { VerificationProgress } from '../../../model.js';
import type { StateStore } from '../../state/store.js';
import type { MigrationDoc } from '../../state/types.js';
import { RecheckQueue } from './recheck-queue.js';
import { TouchLog } from './touch-log.js';

/** Fixed costs of a cutover besides its data work: the block itself, the final time, state writes, the commit. */
const FIXED_SECONDS = 0.4;
/** One TTL restored at the commit (a collMod). */
const TTL_SECONDS = 0.05;
const DETAILS = 5;

/**
 * Coverage of continuous verification and the downtime it predicts, from the state alone (status reads it
 * without a lease). The prediction adds what the block will have to do: drain the lag, recheck the queue at the
 * measured rate, compare whatever was not covered, compare metadata, restore TTLs.
 */
export async function readVerificationProgress(store: StateStore, doc: MigrationDoc, maxLagSeconds: number): Promise<VerificationProgress> {
  const queue = new RecheckQueue(store);
  const [partitions] = await store.verifyPartitions
    .aggregate<{ total: number; done: number; compared: number }>([
      { $match: { migration: store.name } },
      { $group: { _id: null, total: { $sum: 1 }, done: { $sum: { $cond: ['$done', 1, 0] } }, compared: { $sum: '$documentsCompared' } } },
    ])
    .toArray();
  const [queued, logged, confirmed, ttls, uniques] = await Promise.all([
    queue.size(),
    new TouchLog(store).size(),
    queue.confirmed(DETAILS),
    store.relaxedIndexes.countDocuments({ migration: store.name, restored: false, 'original.expireAfterSeconds': { $exists: true } }),
    store.relaxedIndexes.countDocuments({ migration: store.name, restored: false, 'original.unique': true, uniqueRestored: { $ne: true } }),
  ]);
  // Logged touches not compared yet count as queued: the cutover rechecks them like the queue's entries.
  const recheckQueue = queued + logged;
  const state = doc.verification ?? {};
  const meta = state.metaMismatches ?? [];
  const confirmedCount = confirmed.length < DETAILS ? confirmed.length : await queue.confirmedCount();
  const planned = partitions?.total ?? 0;
  const done = partitions?.done ?? 0;
  const documentsVerified = partitions?.compared ?? 0;
  const documentsTotal = Math.max(documentsVerified, doc.collections.filter((c) => c.kind !== 'view').reduce((n, c) => n + c.documentsTotal, 0));
  const complete = Boolean(state.lastRoundAt) && planned > 0 && done === planned;

  let predicted: number | null = null;
  if (state.startedAt) {
    const recheckRate = Math.max(50, state.recheckPerSecond ?? 500);
    const compareRate = Math.max(100, state.comparePerSecond ?? 2000);
    const drain = Math.min(doc.lagSeconds ?? maxLagSeconds, maxLagSeconds);
    const uncovered = complete ? 0 : Math.max(0, documentsTotal - documentsVerified) / compareRate;
    // A unique index not finalized before the block is converted inside it: counted at the compare rate (a scan).
    const unique = uniques ? documentsTotal / compareRate : 0;
    predicted = FIXED_SECONDS + drain + recheckQueue / recheckRate + uncovered + unique + (2 * (state.metaMs ?? 200)) / 1000 + ttls * TTL_SECONDS;
  }
  return {
    documentsVerified,
    documentsTotal,
    partitionsVerified: done,
    partitionsTotal: planned,
    recheckQueue,
    mismatches: confirmedCount + meta.length,
    mismatchDetails: [...meta, ...confirmed.map((c) => `${c.t}: _id ${formatId(decodeIdKey(Buffer.from(c._id.k, 'hex')))} ${c.mismatch ?? 'differs'}`)].slice(0, DETAILS),
    complete,
    predictedDowntimeSeconds: predicted === null ? null : Number(predicted.toFixed(2)),
    ...(state.comparePerSecond ? { documentsPerSecond: state.comparePerSecond } : {}),
  };
}
