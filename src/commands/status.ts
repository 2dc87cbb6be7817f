import { formatCount, formatDuration, plural } from '../format.js';
import type { MongoClient } from 'mongodb';
import { UserError } from '../errors.js';
import { connectCluster } from '../mongo/connect.js';
import { assertSameClusters, readClusterIdentity } from '../engine/cluster-identity.js';
import { tokenTime } from '../engine/position.js';
import { buildProgress } from '../engine/progress.js';
import { assessReadiness, readSourceOplog, type SourceOplog } from '../engine/readiness.js';
import { StateStore } from '../engine/state/store.js';
import type { MigrationDoc } from '../engine/state/types.js';
import { readVerificationProgress } from '../engine/verify/continuous/coverage.js';
import { nextStepFor } from './next-step.js';
import { describeVerification } from './verification-summary.js';
import type { CommandImpl } from './types.js';

/**
 * Reads the state from the destination (no lease needed) and judges readiness now, against the source as it
 * is (oplog bounds, newest write): the last slice's own lag is history, not the present.
 */
export const runStatus: CommandImpl = async (config) => {
  const destination = await connectCluster(config.destination.uri, 'destination');
  try {
    const store = new StateStore(destination, config.name);
    const doc = await store.get();
    if (!doc) throw new UserError(`migration "${config.name}" has not started on this destination`, `run \`mongo-live-migrate sync --config ${config.file}\``);
    const oplog = await sourceOplog(config.source.uri, doc, destination);
    const buffered = doc.phase === 'syncing' && !doc.applied ? tokenTime((await store.bufferEnd())?.token) : undefined;
    const readiness = assessReadiness(doc, oplog, { maxLagSeconds: config.cutover.maxLagSeconds, ...(buffered ? { position: buffered } : {}) });
    const verifies = config.cutover.verify === 'hash' && (doc.phase === 'tailing' || doc.phase === 'cutting-over');
    const verification = verifies ? await readVerificationProgress(store, doc, config.cutover.maxLagSeconds) : undefined;
    const progress = buildProgress(doc, await store.partitionsOf(), { maxLagSeconds: config.cutover.maxLagSeconds, readiness, ...(verification ? { verification } : {}) });
    const blocked = progress.sourceWriteBlocked ? '; the SOURCE IS WRITE-BLOCKED by this migration' : '';
    const verifyReasons = progress.warnings.filter((w) => w.startsWith('not ready: continuous') || w.startsWith('not ready: verification')).map((w) => w.slice('not ready: '.length));
    const reasons = [...readiness.reasons, ...verifyReasons];
    const notReady = doc.phase === 'tailing' && reasons.length ? `; not ready: ${reasons.join('; ')}` : '';
    // While syncing, the capture's saved point only moves with relevant events: its age is no warning sign.
    const warned = doc.phase === 'tailing' && readiness.warnings.length ? `; warning: ${readiness.warnings.join('; ')}` : '';
    return {
      command: 'status',
      exitCode: doc.phase === 'failed' ? 1 : 0,
      summary: `migration "${config.name}": ${doc.phase}${doc.step ? `/${doc.step}` : ''}, ${formatCount(progress.totals.documentsCopied)}/${plural(progress.totals.documentsTotal, 'document')}, lag ${progress.lagSeconds === null ? '-' : formatDuration(progress.lagSeconds)}${verification ? `; ${describeVerification(verification).replace(/; $/, '')}` : ''}${progress.readyForCutover ? ', ready for cutover' : ''}${notReady}${warned}${blocked}${doc.error ? `; error: ${doc.error}` : ''}`,
      progress,
      continue: doc.phase === 'syncing' || (doc.phase === 'tailing' && !progress.readyForCutover),
      nextStep: nextStepFor(config, doc, progress.readyForCutover),
    };
  } finally {
    await destination.close();
  }
};

/**
 * The source's oplog bounds, or null when the source cannot be reached (then nothing is ready). A source
 * that is not the migration's own is refused like every other command refuses it.
 */
async function sourceOplog(uri: string, doc: MigrationDoc, destination: MongoClient): Promise<SourceOplog | null> {
  let source: MongoClient | undefined;
  try {
    source = await connectCluster(uri, 'source', { timeoutMs: 5000 }).catch(() => undefined);
    if (!source) return null;
    const clusters = { source: await readClusterIdentity(source), destination: await readClusterIdentity(destination) };
    assertSameClusters(doc._id, { source: doc.sourceCluster, destination: doc.destinationCluster }, clusters);
    return await readSourceOplog(source).catch(() => null);
  } finally {
    await source?.close();
  }
}
