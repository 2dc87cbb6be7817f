import type { MongoClient } from 'mongodb';
import type { Config } from '../../config/types.js';
import { UserError } from '../../errors.js';
import type { Progress } from '../../model.js';
import { connectCluster, type Side } from '../../mongo/connect.js';
import { MAJORITY_WARN_BEHIND_S, majorityWarning, readMajorityBehind } from '../../mongo/majority-point.js';
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
  /** A side whose majority commit point trails its writes now (also in progress.warnings): what every majority read and write waits on. */
  majority: string[];
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
    const destinationMajority = await trailingMajority(destination, 'destination');
    if (!doc) {
      // A sync that started creates its state with majority writes: a trailing majority holds it there, unseen.
      if (destinationMajority.length) throw new UserError(`migration "${config.name}" has no state on this destination yet, and ${destinationMajority[0]}`, 'a sync that has started is waiting for it');
      throw new UserError(`migration "${config.name}" has not started on this destination`, `run \`mongo-live-migrate sync --config ${config.file}\``);
    }
    const { oplog, majority: sourceMajority } = await readSource(config.source.uri, doc, destination);
    const majority = [...sourceMajority, ...destinationMajority];
    const buffered = doc.phase === 'syncing' && !doc.applied ? tokenTime((await store.bufferEnd())?.token) : undefined;
    const readiness = assessReadiness(doc, oplog, { maxLagSeconds: config.cutover.maxLagSeconds, ...(buffered ? { position: buffered } : {}) });
    const verifies = config.cutover.verify === 'hash' && (doc.phase === 'tailing' || doc.phase === 'cutting-over');
    const verification = verifies ? await readVerificationProgress(store, doc, config.cutover.maxLagSeconds) : undefined;
    const progress = progressFor(config, doc, await store.partitionsOf(), { readiness, ...(verification ? { verification } : {}) });
    progress.warnings.push(...majority);
    return { doc, readiness, progress, majority };
  } finally {
    await destination.close();
  }
}

/**
 * The source's oplog bounds, or null when the source cannot be reached (then nothing is ready), and whether its
 * majority commit point trails. A source that is not the migration's own is refused like every other command refuses it.
 */
async function readSource(uri: string, doc: MigrationDoc, destination: MongoClient): Promise<{ oplog: SourceOplog | null; majority: string[] }> {
  let source: MongoClient | undefined;
  try {
    source = await connectCluster(uri, 'source', { timeoutMs: 5000 }).catch(() => undefined);
    if (!source) return { oplog: null, majority: [] };
    const clusters = { source: await readClusterIdentity(source), destination: await readClusterIdentity(destination) };
    assertSameClusters(doc._id, { source: doc.sourceCluster, destination: doc.destinationCluster }, clusters);
    const majority = await trailingMajority(source, 'source');
    return { oplog: await readSourceOplog(source).catch(() => null), majority };
  } finally {
    await source?.close();
  }
}

/** The warning a running sync or tail logs (majority-watch.ts), judged now; none when the point follows or the side does not say. */
async function trailingMajority(client: MongoClient, side: Side): Promise<string[]> {
  const behind = await readMajorityBehind(client, side);
  return behind !== undefined && behind >= MAJORITY_WARN_BEHIND_S ? [majorityWarning(side, behind)] : [];
}
