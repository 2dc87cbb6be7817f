import { formatCount, formatDuration, plural } from '../format.js';
import type { MongoClient } from 'mongodb';
import { UserError } from '../errors.js';
import { connectCluster } from '../mongo/connect.js';
import { buildProgress } from '../engine/progress.js';
import { StateStore } from '../engine/state/store.js';
import type { MigrationDoc } from '../engine/state/types.js';
import { nextStepFor } from './next-step.js';
import type { CommandImpl } from './types.js';

/** Reads the state from the destination (no lease needed); the source is asked for oplog headroom if reachable. */
export const runStatus: CommandImpl = async (config) => {
  const destination = await connectCluster(config.destination.uri, 'destination');
  try {
    const store = new StateStore(destination, config.name);
    const doc = await store.get();
    if (!doc) throw new UserError(`migration "${config.name}" has not started on this destination`, `run \`mongo-live-migrate sync --config ${config.file}\``);
    const headroom = await oplogHeadroom(config.source.uri, doc).catch(() => null);
    const progress = buildProgress(doc, await store.partitionsOf(), { maxLagSeconds: config.cutover.maxLagSeconds, oplogHeadroomSeconds: headroom });
    const blocked = progress.sourceWriteBlocked ? '; the SOURCE IS WRITE-BLOCKED by this migration' : '';
    return {
      command: 'status',
      exitCode: doc.phase === 'failed' ? 1 : 0,
      summary: `migration "${config.name}": ${doc.phase}${doc.step ? `/${doc.step}` : ''}, ${formatCount(progress.totals.documentsCopied)}/${plural(progress.totals.documentsTotal, 'document')}, lag ${progress.lagSeconds === null ? '-' : formatDuration(progress.lagSeconds)}${blocked}${doc.error ? `; error: ${doc.error}` : ''}`,
      progress,
      continue: doc.phase === 'syncing' || (doc.phase === 'tailing' && !progress.readyForCutover),
      nextStep: nextStepFor(config, doc, progress.readyForCutover),
    };
  } finally {
    await destination.close();
  }
};

/** Seconds until the saved position falls off the source oplog: window length minus how far behind it is. */
async function oplogHeadroom(uri: string, doc: MigrationDoc): Promise<number | null> {
  let source: MongoClient | undefined;
  try {
    source = await connectCluster(uri, 'source', { timeoutMs: 5000 });
    const oplog = source.db('local').collection('oplog.rs');
    const first = await oplog.find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next();
    if (!first) return null;
    const firstSeconds = (first.ts as { getHighBits(): number }).getHighBits();
    const position = doc.applied?.wallTime ?? doc.captureStart?.at ?? doc.updatedAt;
    return Math.max(0, position.getTime() / 1000 - firstSeconds);
  } finally {
    await source?.close();
  }
}
