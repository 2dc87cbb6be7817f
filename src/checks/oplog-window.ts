import { oplogBounds, type OplogBounds } from '../mongo/introspection.js';
import { formatBytes } from '../report/checks-render.js';
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

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '∞';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 3 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** Pure: the finding for a window. */
export function assessOplogWindow(bounds: OplogBounds | null): Finding {
  if (!bounds) return fail('the source oplog (local.oplog.rs) is empty', 'the source must be a replica set with an oplog');
  const w = oplogWindow(bounds);
  const mb = (b: number | null): string => (b === null ? '?' : formatBytes(b));
  const facts =
    `oplog from ${bounds.first.toISOString()} to ${bounds.last.toISOString()} (${formatSeconds(w.spanSeconds)}), ${mb(bounds.usedBytes)} of ${mb(bounds.maxBytes)}` +
    (w.bytesPerSecond === null ? '' : `, written at ${(w.bytesPerSecond / 1024).toFixed(1)} KB/s`) +
    (w.full ? '; it is full: the window is the span' : `; not full yet: at this rate it will hold ${formatSeconds(w.capacitySeconds)}`);
  const grow = bounds.maxBytes ? Math.ceil(((bounds.maxBytes / 1048576) * OPLOG_WARN_BELOW_S) / w.capacitySeconds) : null;
  const remedy = `grow the source oplog${grow ? ` to about ${grow} MB` : ''}: db.adminCommand({replSetResizeOplog: 1, size: <MB>}) on every member (Atlas: Additional Settings → oplog size), or set minRetentionHours`;
  // A projection from a short span that is still filling (a fresh or just-seeded cluster) extrapolates one
  // burst of writes: worth a warning, not a failure. Failing needs a measured window: a full oplog.
  if (w.capacitySeconds < OPLOG_FAIL_BELOW_S && !w.full && w.spanSeconds < OPLOG_FAIL_BELOW_S) {
    return warn(`${facts}; projected from only ${formatSeconds(w.spanSeconds)} of history, so unreliable: check again under normal load`, remedy);
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
