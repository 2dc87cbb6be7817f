/**
 * The one model every report is rendered from: terminal text, --json, the PR comment, the job summary,
 * the action's outputs. Engines and checks produce it; renderers (pure functions) turn it into text. It sits
 * below engine, checks and report, which all speak it.
 * Everything here is plain data (JSON-serialisable) and free of secrets.
 */

export type Phase = 'created' | 'validated' | 'syncing' | 'tailing' | 'cutting-over' | 'committed' | 'failed' | 'aborted';

export interface PhaseChange {
  phase: Phase;
  /** ISO timestamp. */
  at: string;
  /** Who made the change: host/pid, or the GitHub run (owner/repo#runId attempt). */
  runner: string;
  note?: string;
}

export interface CollectionProgress {
  /** Source namespace, db.coll. */
  source: string;
  /** Destination namespace after renames. */
  target: string;
  kind: 'collection' | 'view' | 'capped' | 'clustered' | 'timeseries';
  documentsTotal: number;
  documentsCopied: number;
  bytesTotal: number;
  bytesCopied: number;
  done: boolean;
}

export interface LagSample {
  at: string;
  lagSeconds: number;
}

export interface Progress {
  migration: string;
  phase: Phase;
  /** Sub-step while syncing / cutting over: copy, replay, catch-up, write-block, drain, restore-indexes, verify. */
  step?: string;
  phaseSince: string;
  history: PhaseChange[];
  collections: CollectionProgress[];
  totals: { documentsTotal: number; documentsCopied: number; bytesTotal: number; bytesCopied: number };
  /** Seconds between the source's newest write and the newest change applied; null before capture starts. */
  lagSeconds: number | null;
  readyForCutover: boolean;
  /** Seconds before the saved position falls off the source oplog; null when unknown. */
  oplogHeadroomSeconds: number | null;
  /** Estimated seconds until the copy finishes; null when unknown. */
  etaSeconds: number | null;
  eventsApplied: number;
  lagHistory: LagSample[];
  warnings: string[];
  /** True while a write block set by this migration is in force on the source. */
  sourceWriteBlocked: boolean;
  /** Seconds of write downtime of a committed cutover. */
  downtimeSeconds?: number;
  /** Continuous verification's coverage (absent when the cutover does not verify content). */
  verification?: VerificationProgress;
  error?: string;
}

/** How far continuous verification has got: the cutover rechecks only what is still open here. */
export interface VerificationProgress {
  documentsVerified: number;
  documentsTotal: number;
  partitionsVerified: number;
  partitionsTotal: number;
  /** Documents queued for a recheck (touched since compared, or found different while the sides moved). */
  recheckQueue: number;
  /** Confirmed differences: documents, and collections/options/indexes. */
  mismatches: number;
  /** The first few, in words. */
  mismatchDetails: string[];
  /** Every partition compared: the cutover has only the queue left to recheck. */
  complete: boolean;
  /** What the cutover's write block should last now, from measured rates (null before anything was measured). */
  predictedDowntimeSeconds: number | null;
  /** Documents compared per second by the partition comparison. */
  documentsPerSecond?: number;
}

/** skip: the check could not run (a side it needs is unreachable); neither a warning nor a pass. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable identifier, e.g. "source.topology". */
  id: string;
  title: string;
  status: CheckStatus;
  /** One line with the facts found. */
  message: string;
  /** What to run or change; empty when passing. */
  remedy?: string;
}

export interface PlanEntry {
  source: string;
  target: string;
  kind: CollectionProgress['kind'];
  documents: number;
  dataBytes: number;
  indexes: string[];
  action: 'create' | 'drop-and-recreate' | 'conflict' | 'skip';
}

export interface Plan {
  entries: PlanEntry[];
  totals: { collections: number; views: number; documents: number; dataBytes: number; indexes: number };
  /** Estimated copy duration in seconds, and how it was measured. */
  estimate: { seconds: number | null; method: string };
  oplogWindowSeconds: number | null;
}

export interface VerifyMismatch {
  /** Source namespace (for extra-collection: the destination namespace). */
  namespace: string;
  /** Destination namespace, when it differs from `namespace` (renames). */
  target?: string;
  kind: 'count' | 'content' | 'missing-document' | 'extra-document' | 'index' | 'options' | 'missing-collection' | 'extra-collection';
  detail: string;
  /** Up to maxIds `_id`s in mongo shell notation (1, 1.0, NumberLong("1"), ObjectId("..."), "text"). */
  ids?: string[];
}

export interface VerifyCollection {
  source: string;
  target: string;
  /** Views have no count of their own: 0 (their definition is what is compared). */
  sourceCount: number;
  targetCount: number;
  /** What was compared: count, count+dbHash, count+client-hash (why), view-definition, ... */
  method: string;
  equal: boolean;
  kind?: CollectionProgress['kind'];
}

export interface VerifyReport {
  mode: 'count' | 'hash';
  /** False while changes still flow (results are approximate); true at cutover or on a frozen source. */
  exact: boolean;
  collections: VerifyCollection[];
  mismatches: VerifyMismatch[];
  /** Facts that are not mismatches: indexes still relaxed for the sync, what could not be compared and why. */
  notes?: string[];
  durationMs?: number;
}

/** What a command hands back to an edge (CLI or action) to render and to decide the exit code. */
export interface CommandOutcome {
  command: string;
  /** 0 success, 1 an operation or check failed, 2 usage / configuration. */
  exitCode: 0 | 1 | 2;
  /** One line for humans. */
  summary: string;
  progress?: Progress;
  checks?: CheckResult[];
  plan?: Plan;
  verification?: VerifyReport;
  /** Another tail slice is needed (the action's `continue` output). */
  continue?: boolean;
  /** The exact next command, for the reports' "next step". */
  nextStep?: string;
  /** The step is still running: a report written at its start or during it (the PR comment's "running since"). */
  running?: boolean;
}
