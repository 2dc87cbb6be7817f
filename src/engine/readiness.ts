import type { MongoClient, Timestamp } from 'mongodb';
import { savedPositionTime } from './position.js';
import type { MigrationDoc } from './state/types.js';

/**
 * A slice older than this no longer vouches for the lag: nothing applies changes, so the destination falls
 * behind while the last recorded lag still says 0. Five minutes is many lag samples (a running tail records
 * one every few seconds) and shorter than any useful pause between slices.
 */
export const FRESH_SLICE_MS = 5 * 60_000;
/** Warn when less than this much of the oplog is left before the position (or half the window, if smaller). */
const HEADROOM_WARN_SECONDS = 3600;

export interface Readiness {
  ready: boolean;
  /** Why it is not ready (empty when ready). */
  reasons: string[];
  /** Things to act on before they become reasons (oplog headroom running out). */
  warnings: string[];
  /** Lag measured now: the source's newest write against the saved position; null when not measurable. */
  lagSeconds: number | null;
  /** Seconds of oplog left before the saved position falls off it; null when unknown. */
  headroomSeconds: number | null;
}

export interface SourceOplog {
  /** Time of the oldest oplog entry. */
  first: Timestamp;
  /** Time of the newest write (no-op heartbeats of an idle primary excluded). */
  latest: Timestamp;
}

/** Reads the source's oplog bounds (needs find on local.oplog.rs, as the oplog window check does). */
export async function readSourceOplog(source: MongoClient): Promise<SourceOplog | null> {
  const oplog = source.db('local').collection('oplog.rs');
  const first = await oplog.find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next();
  // An idle primary writes a no-op every 10 s: counting those would call an idle migration 10 s behind.
  const latest =
    (await oplog.find({ op: { $ne: 'n' } }, { projection: { ts: 1 }, maxTimeMS: 5000 }).sort({ $natural: -1 }).limit(1).next().catch(() => null)) ??
    (await oplog.find({}, { projection: { ts: 1 } }).sort({ $natural: -1 }).limit(1).next());
  if (!first || !latest) return null;
  return { first: first.ts as Timestamp, latest: latest.ts as Timestamp };
}

/**
 * Whether the migration is ready for cutover now, judged from the state and the source as they are — not from
 * the last slice's own report: a recent slice, the saved position still inside the source oplog, and the lag
 * measured now within maxLagSeconds.
 */
export function assessReadiness(doc: MigrationDoc, oplog: SourceOplog | null, options: { maxLagSeconds: number; now?: number; freshMs?: number; position?: Timestamp }): Readiness {
  const now = options.now ?? Date.now();
  const reasons: string[] = [];
  const warnings: string[] = [];
  let lagSeconds: number | null = null;
  let headroomSeconds: number | null = null;
  if (doc.phase !== 'tailing') reasons.push(`the migration is ${doc.phase}${doc.step ? `/${doc.step}` : ''}, not tailing`);

  // A sync's capture resumes from its buffer's end, which the caller passes (the state document lacks it).
  const position = options.position ?? savedPositionTime(doc);
  if (!oplog) {
    reasons.push('the source oplog could not be read, so the lag cannot be measured');
  } else if (!position) {
    reasons.push('no saved position yet');
  } else {
    const seconds = (t: Timestamp): number => t.getHighBits();
    if (position.lessThan(oplog.first)) {
      headroomSeconds = 0;
      reasons.push(`the saved position (${iso(seconds(position))}) is no longer in the source oplog (oldest entry ${iso(seconds(oplog.first))}): changes in between are gone, a re-sync is needed`);
    } else {
      headroomSeconds = seconds(position) - seconds(oplog.first);
      const window = seconds(oplog.latest) - seconds(oplog.first);
      if (headroomSeconds < Math.min(HEADROOM_WARN_SECONDS, window / 2)) {
        warnings.push(`the saved position leaves the source oplog in about ${duration(headroomSeconds)} (oplog window ${duration(window)}): run tail now, or enlarge the source oplog (replSetResizeOplog)`);
      }
    }
    lagSeconds = Math.max(0, seconds(oplog.latest) - seconds(position));
    if (lagSeconds > options.maxLagSeconds) reasons.push(`lag now ${lagSeconds} s (the source's newest write against the saved position) is above cutover.maxLagSeconds ${options.maxLagSeconds} s`);
  }

  const lastSample = doc.lagHistory[doc.lagHistory.length - 1];
  const sampledAt = lastSample ? Date.parse(lastSample.at) : NaN;
  const freshMs = options.freshMs ?? FRESH_SLICE_MS;
  if (Number.isNaN(sampledAt)) {
    reasons.push('no slice has measured the lag yet');
  } else if (now - sampledAt > freshMs) {
    reasons.push(`the last slice measured the lag ${duration((now - sampledAt) / 1000)} ago (fresh means within ${duration(freshMs / 1000)}): run tail`);
  }
  return { ready: reasons.length === 0, reasons, warnings, lagSeconds, headroomSeconds };
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
