import { MongoError, type MongoClient } from 'mongodb';
import type { Config } from '../../config/types.js';
import { OperationError } from '../../errors.js';
import type { Phase, VerifyReport } from '../../model.js';
import { NamespaceFilter } from '../../namespaces.js';
import { scrub } from '../../redact.js';
import { assertSameClusters, readClusterIdentity, type ClusterIdentity } from '../cluster-identity.js';
import type { EnginePorts } from '../ports.js';
import { connectDestination, connectSource } from '../run.js';
import { StateStore } from '../state/store.js';
import { verifyMigration, type RelaxedIndex } from '../verify/verify.js';

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

export interface VerifyNowResult {
  report: VerifyReport;
  stance: VerifyStance;
}

/**
 * Exact when the source can no longer change under us: the migration committed, or this migration's
 * source write block is in force (set and not lifted). Otherwise, including when no migration state exists
 * on the destination, the source may still be written to, so the results are approximate. The server has no
 * read-only view of setUserWriteBlockMode's state, so the state document is the only reliable witness.
 * Reads the state without a lease: verify runs at any time, next to a running slice.
 */
export async function readVerifyStance(destination: MongoClient, migration: string): Promise<VerifyStance> {
  const store = new StateStore(destination, migration);
  const doc = await store.get();
  if (!doc) return { phase: null, exact: false, because: `no state of migration "${migration}" on the destination`, relaxedIndexes: [], owned: [], clusters: {} };
  const relaxed = await store.relaxedIndexes.find({ migration, restored: { $ne: true } }, { projection: { target: 1, name: 1 } }).toArray();
  const relaxedIndexes = relaxed.map((r) => ({ target: r.target, name: r.name }));
  // Older states may lack the list: nothing is then called extra.
  const owned = (doc.collections ?? []).map((c) => c.target);
  const clusters = { source: doc.sourceCluster, destination: doc.destinationCluster };
  if (doc.phase === 'committed') return { phase: doc.phase, exact: true, because: 'the migration is committed', relaxedIndexes, owned, clusters };
  if (doc.writeBlock && !doc.writeBlock.liftedAt) return { phase: doc.phase, exact: true, because: 'source writes are blocked', relaxedIndexes, owned, clusters };
  return { phase: doc.phase, exact: false, because: `the migration is ${doc.phase}`, relaxedIndexes, owned, clusters };
}

/**
 * verify, usable at any time. Mode from cutover.verify; `none` there means "cutover does not verify", not
 * "verify nothing", so this then compares counts (the cheap mode; indexes and options are compared in both
 * modes).
 */
export async function verifyNow(config: Config, ports: EnginePorts): Promise<VerifyNowResult> {
  // Majority-committed reads, as the migration itself reads: a write the source may roll back is not compared.
  const source = await connectSource(config);
  let destination: MongoClient | undefined;
  try {
    destination = await connectDestination(config);
    const stance = await readVerifyStance(destination, config.name);
    // The migration's verification compares its own source, never another cluster that shares its name.
    assertSameClusters(config.name, stance.clusters, { source: await readClusterIdentity(source), destination: await readClusterIdentity(destination) });
    const mode = config.cutover.verify === 'hash' ? 'hash' : 'count';
    ports.log.info({ mode, exact: stance.exact, phase: stance.phase }, 'verifying');
    const report = await verifyMigration(source, destination, new NamespaceFilter(config.namespaces), {
      mode,
      exact: stance.exact,
      relaxedIndexes: stance.relaxedIndexes,
      owned: stance.owned,
      signal: ports.signal,
      onCollection: (c) => ports.log.debug({ source: c.source, target: c.target, method: c.method, equal: c.equal }, 'verified collection'),
    });
    return { report, stance };
  } catch (error) {
    // A server refusal (privileges, a collection dropped mid-way) is a failed operation, not a bug.
    if (error instanceof MongoError) {
      throw new OperationError(`verification failed: ${scrub(error.message)}`, 'check that both users may read every included database (listDatabases, listCollections, listIndexes, find)', { cause: error });
    }
    throw error;
  } finally {
    await Promise.all([source.close(), destination?.close()]);
  }
}
