import { plural } from '../format.js';
import { MongoError, type MongoClient } from 'mongodb';
import { OperationError } from '../errors.js';
import { connectCluster } from '../mongo/connect.js';
import { scrub } from '../redact.js';
import { assertSameClusters, readClusterIdentity, type ClusterIdentity } from '../engine/cluster-identity.js';
import { NamespaceFilter, STATE_DB } from '../namespaces.js';
import { verifyMigration, type RelaxedIndex } from '../engine/verify/verify.js';
import type { Phase, VerifyReport } from '../model.js';
import type { CommandImpl } from './types.js';

/**
 * The few fields of the engine's state documents that verify reads (the full shapes live with the state
 * store; only these are relied on, so the two can evolve apart).
 */
interface MigrationStateFields {
  _id: string;
  phase: Phase;
  /** The source write block this migration set; liftedAt once lifted. */
  writeBlock?: { setAt: Date; liftedAt?: Date };
  /** What the migration created on the destination: the namespaces verify may call extra. */
  collections?: { target: string }[];
  sourceCluster?: ClusterIdentity;
  destinationCluster?: ClusterIdentity;
}
interface RelaxedIndexFields {
  migration: string;
  target: string;
  name: string;
  restored?: boolean;
}
const STATE_COLLECTIONS = { migrations: 'migrations', relaxedIndexes: 'relaxed_indexes' } as const;

/** What the migration's state (if any) says about how to read a verification. */
export interface VerifyStance {
  phase: Phase | null;
  exact: boolean;
  /** Why the result is or is not exact, for the summary. */
  because: string;
  relaxedIndexes: RelaxedIndex[];
  /** Destination namespaces the migration created (none without a state). */
  owned: string[];
  /** The clusters the migration is bound to (none without a state, or from before the binding). */
  clusters: { source?: ClusterIdentity; destination?: ClusterIdentity };
}

/**
 * Exact when the source can no longer change under us: the migration committed, or this migration's
 * source write block is in force (set and not lifted). Otherwise, including when no migration state exists
 * on the destination, the source may still be written to, so the results are approximate. The server has no
 * read-only view of setUserWriteBlockMode's state, so the state document is the only reliable witness.
 */
export async function readVerifyStance(destination: MongoClient, migration: string): Promise<VerifyStance> {
  const state = destination.db(STATE_DB);
  const doc = await state.collection<MigrationStateFields>(STATE_COLLECTIONS.migrations).findOne({ _id: migration });
  if (!doc) return { phase: null, exact: false, because: `no state of migration "${migration}" on the destination`, relaxedIndexes: [], owned: [], clusters: {} };
  const relaxed = await state
    .collection<RelaxedIndexFields>(STATE_COLLECTIONS.relaxedIndexes)
    .find({ migration, restored: { $ne: true } }, { projection: { target: 1, name: 1 } })
    .toArray();
  const relaxedIndexes = relaxed.map((r) => ({ target: r.target, name: r.name }));
  const owned = (doc.collections ?? []).map((c) => c.target);
  const clusters = { source: doc.sourceCluster, destination: doc.destinationCluster };
  if (doc.phase === 'committed') return { phase: doc.phase, exact: true, because: 'the migration is committed', relaxedIndexes, owned, clusters };
  if (doc.writeBlock && !doc.writeBlock.liftedAt) return { phase: doc.phase, exact: true, because: 'source writes are blocked', relaxedIndexes, owned, clusters };
  return { phase: doc.phase, exact: false, because: `the migration is ${doc.phase}`, relaxedIndexes, owned, clusters };
}

export function verifySummary(report: VerifyReport, because: string): string {
  const n = report.collections.length;
  const differing = new Set(report.mismatches.map((m) => m.namespace)).size;
  const result = report.mismatches.length
    ? `${plural(report.mismatches.length, 'mismatch', 'mismatches')} in ${plural(differing, 'collection')}`
    : 'equal';
  const approximate = report.exact ? '' : ` (approximate: the source is still changing — ${because}; the verification at cutover is exact)`;
  return `verified ${plural(n, 'collection')} (${report.mode}): ${result}${approximate}`;
}

/**
 * verify: usable at any time. Mode from cutover.verify; `none` there means "cutover does not verify", not
 * "verify nothing", so the command then compares counts (the cheap mode; indexes and options are compared in
 * both modes).
 */
export const runVerify: CommandImpl = async (config, _options, ports) => {
  // Majority-committed reads, as the migration itself reads: a write the source may roll back is not compared.
  const source = await connectCluster(config.source.uri, 'source', { extra: { readConcern: { level: 'majority' } } });
  let destination: MongoClient | undefined;
  try {
    destination = await connectCluster(config.destination.uri, 'destination');
    const stance = await readVerifyStance(destination, config.name);
    // The migration's verification compares its own source, never another cluster that shares its name.
    assertSameClusters(config.name, stance.clusters, { source: await readClusterIdentity(source), destination: await readClusterIdentity(destination) });
    const mode = config.cutover.verify === 'hash' ? 'hash' : 'count';
    ports.log.info({ mode, exact: stance.exact, phase: stance.phase }, 'verifying');
    const verification = await verifyMigration(source, destination, new NamespaceFilter(config.namespaces), {
      mode,
      exact: stance.exact,
      relaxedIndexes: stance.relaxedIndexes,
      owned: stance.owned,
      signal: ports.signal,
      onCollection: (c) => ports.log.debug({ source: c.source, target: c.target, method: c.method, equal: c.equal }, 'verified collection'),
    });
    return {
      command: 'verify',
      exitCode: verification.mismatches.length ? 1 : 0,
      summary: verifySummary(verification, stance.because),
      verification,
    };
  } catch (error) {
    // A server refusal (privileges, a collection dropped mid-way) is a failed operation, not a bug.
    if (error instanceof MongoError) {
      throw new OperationError(`verification failed: ${scrub(error.message)}`, 'check that both users may read every included database (listDatabases, listCollections, listIndexes, find)', { cause: error });
    }
    throw error;
  } finally {
    await Promise.all([source.close(), destination?.close()]);
  }
};
