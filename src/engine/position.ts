import { Timestamp, type Document } from 'mongodb';
import type { MigrationDoc } from './state/types.js';

/**
 * The source cluster time a change stream resume token stands for. A token's `_data` is a KeyString whose
 * first value is that time: type byte 0x82 (Timestamp), then the 64-bit timestamp big-endian (seconds, then
 * increment). That holds for event tokens and for the high-water-mark tokens an idle stream hands out, so
 * an idle slice's saved position carries a current time too.
 */
export function tokenTime(token: Document | undefined): Timestamp | undefined {
  const data: unknown = token?._data;
  if (typeof data !== 'string' || !/^82[0-9a-fA-F]{16}/.test(data)) return undefined;
  return new Timestamp({ t: parseInt(data.slice(2, 10), 16), i: parseInt(data.slice(10, 18), 16) });
}

/** Wall time of a token's cluster time (the seconds of a cluster time are the primary's wall clock). */
export function tokenWallTime(token: Document | undefined): Date | undefined {
  const time = tokenTime(token);
  return time ? new Date(time.getHighBits() * 1000) : undefined;
}

/** The source time the migration's saved position stands at: everything up to it is applied (or captured). */
export function savedPositionTime(doc: MigrationDoc): Timestamp | undefined {
  return tokenTime(doc.applied?.token) ?? doc.applied?.operationTime ?? (doc.applied?.wallTime ? new Timestamp({ t: Math.floor(doc.applied.wallTime.getTime() / 1000), i: 0 }) : undefined) ?? doc.captureStart?.operationTime;
}

/**
 * The position to save after a tail batch, with the wall time it stands for: the later of the token's own time,
 * which an idle stream's high-water mark keeps current (the last event's wall time would age while nothing
 * happens, and status' oplog headroom is measured from it), and the last event's wall time. Both are times the
 * position has reached; the token's has whole seconds only, so alone it made the saved position look up to a
 * second older than it is (a busy stream's events carry milliseconds).
 */
export function appliedPosition(token: Document, lastWall?: Date): { token: Document; wallTime?: Date } {
  const tokenWall = tokenWallTime(token);
  const wallTime = tokenWall && lastWall ? (lastWall > tokenWall ? lastWall : tokenWall) : (tokenWall ?? lastWall);
  return wallTime ? { token, wallTime } : { token };
}
