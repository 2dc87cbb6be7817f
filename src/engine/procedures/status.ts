import type { MongoClient } from 'mongodb';
import type { Config } from '../../config/types.js';
import { UserError } from '../../errors.js';
import type { Progress } from '../../model.js';
import { connectCluster } from '../../mongo/connect.js';
import { assertSameClusters, readClusterIdentity } from '../cluster-identity.js';
import { tokenTime } from '../position.js';
import { assessReadiness, readSourceOplog, type Readiness, type SourceOplog } from '../readiness.js';
import { StateStore } from '../state/store.js';
import type { MigrationDoc } from '../state/types.js';
import { readVerificationProgress } from '../verify/continuous/coverage.js';
import { progressFor } from './progress.js';

export interface StatusResult {
  doc: MigrationDoc;
  readiness: Readiness;
  progress: Progress;
}

/**
 * Reads the state from the destination (no lease needed) and judges readiness now, against the source as it
 * is (oplog bounds, newest write): the last slice's own lag is history, not the present.
 */
export async function readStatus(config: Config): Promise<StatusResult> {
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
    const progress = progressFor(config, doc, await store.partitionsOf(), { readiness, ...(verification ? { verification } : {}) });
    return { doc, readiness, progress };
  } finally {
    await destination.close();
  }
}

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
