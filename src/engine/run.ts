import type { MongoClient } from 'mongodb';
import type { Config } from '../config/types.js';
import { OperationError, UserError } from '../errors.js';
import { connectCluster, type ConnectOptions } from '../mongo/connect.js';
import { assertSameClusters, readClusterIdentity } from './cluster-identity.js';
import type { Phase } from '../model.js';
import { NamespaceFilter } from '../namespaces.js';
import { settingsOf, type EnginePorts } from './ports.js';
import { setShortCommandBound } from '../mongo/stall-bound.js';
import { armFailpoint } from './failpoints.js';
import { LeaseHolder } from './state/lease.js';
import { StateStore } from './state/store.js';
import type { MigrationDoc } from './state/types.js';
import { RecheckFeed, type ChangeObserver } from './verify/continuous/feed.js';
import { TouchedKeys } from './verify/continuous/touched-keys.js';
import { ComparisonFrontier } from './verify/continuous/frontier.js';
import { MajorityWatch } from './majority-watch.js';

/** Everything one command run of the engine works with: both clusters, the state, the lease. */
export interface MigrationRun {
  config: Config;
  ports: EnginePorts;
  source: MongoClient;
  destination: MongoClient;
  store: StateStore;
  lease: LeaseHolder;
  filter: NamespaceFilter;
  doc: MigrationDoc;
  /** Told every batch the tail is about to apply: continuous verification's recheck queue (see verify/continuous). */
  changes?: ChangeObserver;
  /** How far the partition comparisons have got, shared by the feed, the destination watch and the steps. */
  frontier?: ComparisonFrontier;
  /** Which destination writes a comparison of the tail's logged touches covers (the feed, the log's steps, the watch). */
  touched?: TouchedKeys;
  /** Reports a side whose majority commit point stops following its writes while the run lasts. */
  majority?: MajorityWatch;
}

export interface OpenOptions {
  forceTakeover?: boolean;
  /** Create the migration document when there is none (sync); other commands need one to exist. */
  create?: boolean;
  /** Wait this long for a live holder to release the lease (the cutover, after asking the tail to yield). */
  waitForHolderMs?: number;
  /** Runs on the migration document before the lease is taken (the cutover records its request; tail checks it). */
  beforeLease?: (store: StateStore, doc: MigrationDoc) => Promise<void>;
  /** While waiting for the lease: an error to stop waiting with (see LeaseWait.stopIf). */
  leaseStopIf?: (doc: MigrationDoc) => Error | undefined;
}

/** Oldest MongoDB the engine supports: change streams with DDL events and the user write block. */
export const MIN_MAJOR_VERSION = 6;

export async function openRun(config: Config, ports: EnginePorts, options: OpenOptions = {}): Promise<MigrationRun> {
  const destination = await connectDestination(config);
  let source: MongoClient | undefined;
  let majority: MajorityWatch | undefined;
  try {
    source = await connectSource(config);
    // From here on: the first writes below (the state's indexes, the migration document) already wait for a majority.
    majority = new MajorityWatch([{ side: 'source', client: source }, { side: 'destination', client: destination }], ports.log);
    await assertVersion(source, 'source');
    const store = new StateStore(destination, config.name);
    await store.ensureSchema();
    const clusters = { source: await readClusterIdentity(source), destination: await readClusterIdentity(destination) };
    let doc = await store.get();
    if (!doc) {
      if (!options.create) throw new UserError(`migration "${config.name}" has not started on this destination`, 'run `sync` first');
      doc = { ...newMigration(config, ports.runner), sourceCluster: clusters.source, destinationCluster: clusters.destination };
      await store.create(doc).catch((error: { code?: number }) => {
        if (error.code !== 11000) throw error; // another runner created it a moment ago: fine, the lease decides
      });
      doc = await store.current();
    }
    // First, and before the lease: a configuration pointing at another cluster must not even take the lease.
    assertSameClusters(config.name, { source: doc.sourceCluster, destination: doc.destinationCluster }, clusters);
    if (doc.configHash !== config.hash) {
      throw new UserError(
        `migration "${config.name}" was started with different namespace rules (config hash ${doc.configHash}, now ${config.hash})`,
        `restore the original namespaces section, or abort the migration (abort --drop-destination --confirm ${config.name}) and start again`,
      );
    }
    await options.beforeLease?.(store, doc);
    const settings = settingsOf(ports);
    armFailpoint(settings.failpoint);
    // Counted from the start of server selection, which may rightly wait as long as the connection string says.
    setShortCommandBound(settings.shortCommandBoundMs + Math.max(source.options.serverSelectionTimeoutMS, destination.options.serverSelectionTimeoutMS));
    const lease = new LeaseHolder(store, ports.runner, [source], settings.leaseTtlMs);
    // A held lease is waited for (a dead runner's expires) rather than refused at once: a rerun must not fail.
    await lease.acquire(options.forceTakeover, { onWait: (message) => ports.log.warn(message), signal: ports.signal, ...(options.waitForHolderMs ? { anyHolderMs: options.waitForHolderMs } : {}), ...(options.leaseStopIf ? { stopIf: options.leaseStopIf } : {}) });
    // Migrations started before the binding get it on first open: the clusters it has been running against.
    doc = !doc.sourceCluster || !doc.destinationCluster ? await store.write(ports.runner, { sourceCluster: doc.sourceCluster ?? clusters.source, destinationCluster: doc.destinationCluster ?? clusters.destination }) : await store.current();
    const filter = new NamespaceFilter(config.namespaces);
    // The recheck queue is fed only when the cutover verifies content: otherwise nothing would ever drain it.
    const frontier = config.cutover.verify === 'hash' ? new ComparisonFrontier() : undefined;
    const touched = frontier ? new TouchedKeys() : undefined;
    const changes = frontier ? new RecheckFeed(store, filter, frontier, touched) : undefined;
    return { config, ports, source, destination, store, lease, filter, doc, majority, ...(changes && frontier && touched ? { changes, frontier, touched } : {}) };
  } catch (error) {
    majority?.stop();
    await Promise.all([source?.close(), destination.close()]).catch(() => undefined);
    throw error;
  }
}

/** Every read of the source sees majority-committed data only: what a failover rolls back was never read. */
export function connectSource(config: Config, options: Pick<ConnectOptions, 'role' | 'extra'> = {}): Promise<MongoClient> {
  return connectCluster(config.source.uri, 'source', { ...options, extra: { ...options.extra, readConcern: { level: 'majority' } } });
}

export function connectDestination(config: Config, options: Pick<ConnectOptions, 'role' | 'extra'> = {}): Promise<MongoClient> {
  return connectCluster(config.destination.uri, 'destination', options);
}

export async function closeRun(run: MigrationRun): Promise<void> {
  run.majority?.stop();
  await run.lease.release();
  await Promise.all([run.source.close(), run.destination.close()]).catch(() => undefined);
}

/** Writes a phase change (and refreshes the in-memory copy). */
export async function transition(run: MigrationRun, phase: Phase, note?: string, set: Partial<MigrationDoc> = {}): Promise<void> {
  run.lease.assertHeld();
  run.doc = await run.store.transition(run.ports.runner, phase, run.ports.runner, note, set);
}

function newMigration(config: Config, runner: string): MigrationDoc {
  const now = new Date();
  return {
    _id: config.name,
    configHash: config.hash,
    phase: 'created',
    createdAt: now,
    updatedAt: now,
    history: [{ phase: 'created', at: now, runner }],
    lease: null,
    collections: [],
    copy: {},
    replay: { nextSeq: 0 },
    eventsApplied: 0,
    lagSeconds: null,
    lagHistory: [],
    warnings: [],
  };
}

async function assertVersion(client: MongoClient, side: 'source' | 'destination'): Promise<void> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  const major = Number(String(info.version).split('.')[0]);
  if (major < MIN_MAJOR_VERSION) {
    throw new OperationError(`the ${side} runs MongoDB ${String(info.version)}; live migration needs 6.0 or newer (DDL change events, user write block)`, `upgrade the ${side} to 6.0+ first`);
  }
}
