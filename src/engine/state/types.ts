import type { Binary, Document, ObjectId, Timestamp } from 'mongodb';
import type { CollectionProgress, LagSample, Phase } from '../../model.js';
import type { ClusterIdentity } from '../cluster-identity.js';

/** Collections of the state database (STATE_DB) on the destination. */
export const STATE_COLLECTIONS = {
  migrations: 'migrations',
  partitions: 'partitions',
  buffer: 'buffer',
  relaxedIndexes: 'relaxed_indexes',
  verifyPartitions: 'verify_partitions',
  recheck: 'recheck',
  touchLog: 'touch_log',
} as const;

export interface HistoryEntry {
  phase: Phase;
  at: Date;
  runner: string;
  note?: string;
}

export interface Lease {
  owner: string;
  /** Server time (destination's clock) after which another runner may take over. */
  expiresAt: Date;
  /** The holder process's tag (mongo/client-operations.ts): a successor stops what that process left running. */
  client?: string;
}

/** One included source collection or view and where it goes. */
export interface CollectionPlan {
  source: string;
  /** The source collection's UUID (hex): the copy finds it by this wherever a rename has moved it since. */
  uuid?: string;
  target: string;
  kind: CollectionProgress['kind'];
  documentsTotal: number;
  bytesTotal: number;
  /** True once the destination collection exists with its options. */
  created: boolean;
  /** True once its indexes (relaxed where needed) exist on the destination. */
  indexesBuilt: boolean;
  /** True once all its copy partitions are recorded (partitions without it are a plan cut short). */
  partitioned?: boolean;
}

export interface MigrationDoc {
  _id: string;
  configHash: string;
  /** The clusters this migration reads and writes (absent in documents from before the binding). */
  sourceCluster?: ClusterIdentity;
  destinationCluster?: ClusterIdentity;
  phase: Phase;
  step?: string;
  createdAt: Date;
  updatedAt: Date;
  history: HistoryEntry[];
  lease: Lease | null;
  /**
   * Process tags (Lease.client) of former holders whose connections no successor has yet seen closed: what they
   * sent may still run. Every successor drains them all, so a runner killed while it drained its own former
   * holder does not leave that one's late writes to land under the next runner's.
   */
  undrainedClients?: string[];
  /** The source operation time from which changes are captured, fixed before the copy starts. */
  captureStart?: { operationTime: Timestamp; at: Date };
  collections: CollectionPlan[];
  copy: { startedAt?: Date; finishedAt?: Date };
  /** Next buffer sequence number to replay; the buffer is drained when it reaches the buffer's end. */
  replay: { nextSeq: number; finishedAt?: Date };
  /** Position of the last change applied to the destination (after replay): a resume token, or the capture start. */
  applied?: { token?: Document; operationTime?: Timestamp; wallTime?: Date };
  /**
   * No document the destination holds was read from the source later than this (the copy's reads, lookups): update
   * events after it may be applied from their delta (see apply/read-horizon.ts). Raised before such a write.
   */
  readHorizon?: Timestamp;
  /** Updates whose document the stream has not told yet, as of the saved position (see UnresolvedDocuments). */
  unresolved?: { uuid: string; key: Buffer | Binary; db: string; coll: string }[];
  /** Written (w: 1) after data writes and before the position save that covers them (see apply/write-terms.ts). */
  saveFence?: string;
  /** The second fence field: two saves may overlap, each with its own fence (see apply/write-terms.ts). */
  saveFence2?: string;
  eventsApplied: number;
  lagSeconds: number | null;
  lagHistory: LagSample[];
  /** The source write block this migration set (cutover); liftedAt once lifted. */
  writeBlock?: { setAt: Date; liftedAt?: Date; by: string };
  cutover?: {
    step: string;
    startedAt: Date;
    /** Source operation time taken after the write block: the drain ends once applied past it. */
    finalTime?: Timestamp;
    committedAt?: Date;
    downtimeSeconds?: number;
    verification?: string;
    /** Milliseconds per step of the run that committed (what the downtime went to). */
    timings?: Record<string, number>;
  };
  warnings: string[];
  /**
   * An approved cutover asks for the migration (handoff): a running tail slice sees it, saves its position
   * and releases the lease; tail slices started later leave the migration to the cutover. Cleared when the
   * cutover ends; a request whose cutover died is ignored once stale (see cutoverRequestLive).
   */
  cutoverRequest?: { by: string; at: Date };
  error?: string;
  /** Why the last tail stopped on a change stream failure; cleared by the next slice that gets past it. */
  streamError?: string;
  /** The saved position fell off the source oplog: only a new sync can continue. */
  resyncRequired?: boolean;
  /** Continuous verification's own position and findings (see engine/verify/continuous). */
  verification?: VerificationStateDoc;
}

/** What continuous verification keeps on the migration document (partitions and the queue have collections). */
export interface VerificationStateDoc {
  /** The destination change stream's position: writes there are queued for a recheck from here on. */
  destinationToken?: Document;
  startedAt?: Date;
  /** Index and option differences found by the last round (not relaxations still to be undone). */
  metaMismatches?: string[];
  lastRoundAt?: Date;
  /** Measured costs, for the predicted downtime: rechecks per second, and one metadata pass. */
  recheckPerSecond?: number;
  metaMs?: number;
  /** Documents compared per second by partition comparison (the throughput during tail). */
  comparePerSecond?: number;
}

/** One range of one collection compared on both sides by continuous verification (per _id class, resumable). */
export interface VerifyPartitionDoc {
  _id: string;
  migration: string;
  source: string;
  target: string;
  /** `$type` alias of the _id class compared; '-' for a collection empty on both sides when planned. */
  typeClass: string;
  /** Set when planned: a comparison step saves its progress only into the partition it read (DDL re-plans). */
  epoch: string;
  /** The last source `_id` compared as its key bytes (see PartitionDoc.lastIdKey): the comparison resumes after it. */
  lastIdKey?: Buffer | Binary;
  /** The last source `_id` compared as versions before lastIdKey saved it; read only when lastIdKey is absent. */
  lastId?: unknown;
  documentsCompared: number;
  /** Documents found different while comparing, handed to the recheck queue. */
  queued: number;
  done: boolean;
  doneAt?: Date;
}

/**
 * One document to compare again, keyed by its destination namespace and the bytes of its _id: found different
 * while the sides still moved (by a partition step or by the comparison of a logged touch, see TouchLogDoc), or
 * written on the destination by someone else. `gen` counts touches, so a recheck never deletes an entry touched
 * again while it was being compared.
 */
export interface RecheckDoc {
  _id: { m: string; t: string; k: string };
  m: string;
  /** Source namespace (as the event named it) and destination namespace. */
  s: string;
  t: string;
  /** The raw documentKey ({_id: ...}). */
  key: Buffer | Binary;
  gen: number;
  /** Not rechecked before this time (a touched document is being applied; a differing one backs off). */
  due: Date;
  /** Consecutive rechecks that found the sides different without a touch in between. */
  attempts: number;
  mismatch?: string;
  /**
   * Source time of the newest change event that touched the document: until the applied position passes it the
   * destination may still be on its way there, so no recheck judges it (see recheckEntries).
   */
  lastEvent?: Timestamp;
}

/**
 * The documents one tail batch touched, logged before the batch is applied (see TouchLog): parallel arrays, so a
 * record of thousands of keys stays small. Entry j is namespace pair `ns[i[j]]`, raw documentKey `k[j]` and the
 * source time of the event `a[j]`; `at` is the latest of them.
 */
export interface TouchLogDoc {
  _id: ObjectId;
  m: string;
  at: Timestamp;
  ns: { s: string; t: string }[];
  i: number[];
  k: (Buffer | Binary)[];
  a: Timestamp[];
}

/** One range of one collection's _ids, copied and resumed on its own. */
export interface PartitionDoc {
  _id: string;
  migration: string;
  source: string;
  target: string;
  /** BSON type alias the range is restricted to ($type), since ranges bracket by type. */
  typeClass: string;
  /**
   * Inclusive lower and exclusive upper bound as key bytes (type byte + value, see rawIdKey; absent: open). Bytes for
   * the reason lastIdKey is: a sampled `_id` decoded into a JS object was another value (integer-like field names
   * reordered), and every bound of a collection of such `_id`s sorted after all of its documents.
   */
  minKey?: Buffer | Binary;
  maxKey?: Buffer | Binary;
  /** The bounds as versions before minKey/maxKey saved them; read only when those are absent. */
  min?: unknown;
  max?: unknown;
  /** Natural order, no resume point (capped collections keep insertion order). */
  natural: boolean;
  /**
   * The last copied `_id` as its key bytes (type byte + value, see rawIdKey): the copy resumes after it. Bytes, since
   * a decoded value read back from the state is no longer the same `_id` (an embedded document's integer-like field
   * names reordered), and a range after a reordered one can pass over documents never copied.
   */
  lastIdKey?: Buffer | Binary;
  /** The last copied `_id` as versions before lastIdKey saved it; read only when lastIdKey is absent. */
  lastId?: unknown;
  documentsCopied: number;
  bytesCopied: number;
  done: boolean;
  claim?: { owner: string; expiresAt: Date } | null;
}

/** A change event captured during the copy, replayed in seq order once the copy is done. */
export interface BufferDoc {
  _id: { m: string; seq: number };
  token: Document;
  /** The event as the source sent it (raw BSON; read back as a Binary). */
  raw: Buffer | Binary;
  /** Stored without its document, which was too large: looked up at replay. */
  refetch?: boolean;
}

/** An index created relaxed during sync (unique → non-unique, TTL → far future), restored at cutover. */
export interface RelaxedIndexDoc {
  _id: { m: string; target: string; name: string };
  migration: string;
  target: string;
  name: string;
  original: Document;
  restored: boolean;
  /** A relaxed unique index made unique again before the cutover (see finalize-unique.ts); TTL waits for the commit. */
  uniqueRestored?: boolean;
}

/** The two fields of the migration document a save's fence is written to, in turn (see apply/write-terms.ts). */
export const FENCE_FIELDS = ['saveFence', 'saveFence2'] as const;

/** A save's fence: which of the two fields holds it, and its fresh value. */
export interface Fence {
  field: (typeof FENCE_FIELDS)[number];
  value: string;
}
