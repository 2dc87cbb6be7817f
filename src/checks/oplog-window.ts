import { oplogBounds, type OplogBounds } from '../mongo/introspection.js';
import { formatBytes, formatDuration } from '../format.js';
import { fail, pass, warn, type Check, type Finding } from './types.js';

/**
 * How much oplog the migration needs. Changes are buffered in the destination while copying, so the copy
 * needs seconds of window; but between two `tail` runs (separate workflow runs) nothing reads the change
 * stream and the saved resume token must still be in the oplog when the next run starts. Under an hour
 * makes even back-to-back runs fragile; under a day does not survive a missed nightly run.
 */
export const OPLOG_FAIL_BELOW_S = 3600;
export const OPLOG_WARN_BELOW_S = 24 * 3600;

export interface OplogWindow {
  /** Seconds between the first and last entries now. */
  spanSeconds: number;
  /** Seconds of history the oplog will hold once full, at the write rate it has seen; spanSeconds when full. */
  capacitySeconds: number;
  /** Oplog bytes written per second over the span; null when sizes are unknown. */
  bytesPerSecond: number | null;
  full: boolean;
}

/**
 * Pure: the effective window. An oplog that is not full yet keeps its first entry until it fills, so at the
 * observed write rate it will hold span × max/used seconds; a full one holds its span.
 */
export function oplogWindow(bounds: OplogBounds): OplogWindow {
  const span = Math.max(1, (bounds.last.getTime() - bounds.first.getTime()) / 1000);
  if (bounds.usedBytes === null || bounds.maxBytes === null || bounds.usedBytes <= 0 || bounds.maxBytes <= 0) {
    return { spanSeconds: span, capacitySeconds: span, bytesPerSecond: null, full: true };
  }
  const full = bounds.usedBytes >= bounds.maxBytes * 0.95;
  const rate = bounds.usedBytes / span;
  return { spanSeconds: span, capacitySeconds: full ? span : span * (bounds.maxBytes / bounds.usedBytes), bytesPerSecond: rate, full };
}

/** An hour of history is enough to measure a write rate; a few seconds of seeding are not. */
export const OPLOG_RELIABLE_SPAN_S = 3600;

const formatSeconds = (seconds: number): string => formatDuration(seconds, '∞');

/** Pure: the finding for a window. */
export function assessOplogWindow(bounds: OplogBounds | null): Finding {
  if (!bounds) return fail('the source oplog (local.oplog.rs) is empty', 'the source must be a replica set with an oplog');
  const w = oplogWindow(bounds);
  const size = (b: number | null): string => (b === null ? '?' : formatBytes(b));
  // A projection from a short span that is still filling (a fresh or just-seeded cluster) extrapolates one
  // burst of writes: it says nothing about the size the oplog needs.
  const measured = w.full || w.spanSeconds >= OPLOG_RELIABLE_SPAN_S;
  const facts =
    `oplog from ${bounds.first.toISOString()} to ${bounds.last.toISOString()} (${formatSeconds(w.spanSeconds)}), ${size(bounds.usedBytes)} of ${size(bounds.maxBytes)}` +
    (w.bytesPerSecond === null ? '' : `, written at ${formatBytes(w.bytesPerSecond)}/s`) +
    (w.full ? '; it is full: the window is the span' : `; not full yet: at this rate it will hold ${formatSeconds(w.capacitySeconds)}${measured ? '' : ` (projected from ${formatSeconds(w.spanSeconds)} of history)`}`);
  const how = 'db.adminCommand({replSetResizeOplog: 1, size: <MB>}) on every member (Atlas: Additional Settings → oplog size), or set minRetentionHours';
  const growMB = bounds.maxBytes && measured ? Math.ceil(((bounds.maxBytes / 1048576) * OPLOG_WARN_BELOW_S) / w.capacitySeconds) : null;
  const remedy = growMB
    ? `grow the source oplog to about ${formatBytes(growMB * 1048576)} (size: ${growMB}) to hold ${formatSeconds(OPLOG_WARN_BELOW_S)} at this write rate: ${how}`
    : `measure again after an hour or more of normal traffic (${formatSeconds(w.spanSeconds)} of history cannot size an oplog); it must hold ${formatSeconds(OPLOG_WARN_BELOW_S)} of your normal writes: ${how}`;
  if (w.capacitySeconds < OPLOG_FAIL_BELOW_S && !measured) {
    return warn(`${facts}; too little history to judge: check again under normal load`, remedy);
  }
  if (w.capacitySeconds < OPLOG_FAIL_BELOW_S) return fail(`${facts}; the migration needs at least ${formatSeconds(OPLOG_FAIL_BELOW_S)} between tail runs`, remedy);
  if (w.capacitySeconds < OPLOG_WARN_BELOW_S) return warn(`${facts}; under ${formatSeconds(OPLOG_WARN_BELOW_S)}: a gap between tail runs longer than the window loses the position`, remedy);
  return pass(facts);
}

export const oplogWindowCheck: Check = {
  id: 'source.oplog-window',
  title: 'Source oplog window',
  needs: ['source'],
  run: async (context) => assessOplogWindow(await oplogBounds(context.facts.client('source'))),
};
