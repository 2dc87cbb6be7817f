import type { MongoClient } from 'mongodb';
import { firstOplogTime } from '../mongo/introspection.js';
import type { MigrationDoc } from './state/types.js';

/**
 * Seconds before the saved position falls off the source oplog: how far back the oplog reaches, measured from
 * the position. While a migration waits (for an approval, between slices) the position must stay inside the
 * window, or the next slice can only start over; a slice reports it and warns when it runs short.
 */
export async function oplogHeadroomSeconds(source: MongoClient, doc: MigrationDoc): Promise<number | null> {
  const first = await firstOplogTime(source);
  if (!first) return null;
  const firstSeconds = first.getHighBits();
  const position = doc.applied?.wallTime ?? doc.captureStart?.at ?? doc.updatedAt;
  return Math.max(0, position.getTime() / 1000 - firstSeconds);
}

/** A warning when the oplog window left would not outlast two more slices of `sliceMs` (null: fine or unknown). */
export function headroomWarning(headroomSeconds: number | null, sliceMs: number): string | null {
  if (headroomSeconds === null || headroomSeconds * 1000 >= 2 * sliceMs) return null;
  return `oplog headroom is ${Math.round(headroomSeconds / 60)} min: keep tail slices running (a gap longer than that needs a new sync), or enlarge the source oplog (replSetResizeOplog)`;
}
