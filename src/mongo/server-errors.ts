import { MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';

/**
 * The server errors the engine and the checks react to, by name. Codes are read with Number(): replies decoded with
 * promoteValues: false (change streams, raw cursors) carry them as Int32.
 */
export const SERVER_ERROR = {
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NamespaceExists: 48,
  DuplicateKey: 11000,
  ChangeStreamHistoryLost: 286,
  OplogQueryMinTsMissing: 280,
  CollectionUUIDMismatch: 361,
  SnapshotTooOld: 239,
  SnapshotUnavailable: 246,
  Interrupted: 11601,
  QueryPlanKilled: 175,
} as const;

export function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === undefined || code === null ? undefined : Number(code);
}

export const isNamespaceExists = (error: unknown): boolean => errorCode(error) === SERVER_ERROR.NamespaceExists;
export const isNamespaceNotFound = (error: unknown): boolean => errorCode(error) === SERVER_ERROR.NamespaceNotFound;

/** A snapshot read at a time older than the history the server keeps (minSnapshotHistoryWindowInSeconds). */
export const isSnapshotGone = (error: unknown): boolean => {
  const code = errorCode(error);
  return code === SERVER_ERROR.SnapshotTooOld || code === SERVER_ERROR.SnapshotUnavailable;
};

/** A read that met a collection dropped, renamed or re-created since it was listed (DDL on the source). */
export const isCatalogRace = (error: unknown): boolean => {
  const code = errorCode(error);
  return code === SERVER_ERROR.NamespaceNotFound || code === SERVER_ERROR.CollectionUUIDMismatch || code === SERVER_ERROR.QueryPlanKilled;
};

/** An operation killed with killOp (a successor that took the lease over stops the writes it finds running). */
export const isKilled = (error: unknown): boolean => errorCode(error) === SERVER_ERROR.Interrupted;

/** The saved position of a change stream is no longer in the source oplog. */
export const isHistoryLost = (error: unknown): boolean => {
  const code = errorCode(error);
  return code === SERVER_ERROR.ChangeStreamHistoryLost || code === SERVER_ERROR.OplogQueryMinTsMissing;
};

/** A catch handler that swallows the named codes ("already exists" and "does not exist" make DDL idempotent). */
export function ignoreCodes(...codes: number[]): (error: unknown) => void {
  return (error) => {
    if (!codes.includes(errorCode(error) ?? -1)) throw error;
  };
}

/**
 * Server codes of a primary that went away, a connection that broke under a command, or a cursor the server
 * killed (an election, a shutdown, a plan killed by a DDL): the operation can be run again from saved state.
 * The union of what the copy's cursor reopen and the engine's reconnect loop each retried before they shared
 * this one classifier, so no layer retries less than it did.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  43, // CursorNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  175, // QueryPlanKilled
  189, // PrimarySteppedDown
  237, // CursorKilled
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
const TRANSIENT_LABELS = ['ResumableChangeStreamError', 'RetryableWriteError', 'TransientTransactionError'];
const SOCKET_ERRORS: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** Whether an error (or one of its causes) is a broken connection, a primary that went away or a killed cursor. */
export function isTransient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof MongoNetworkError || current instanceof MongoServerSelectionError) return true;
    // The engine's own "start again from the saved state" errors (a destination election under w: 1 writes).
    if ((current as { transient?: unknown }).transient === true) return true;
    if (current instanceof MongoError) {
      const labelled = current;
      if (TRANSIENT_LABELS.some((label) => labelled.hasErrorLabel(label))) return true;
    }
    const code = errorCode(current);
    if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
    const raw = (current as { code?: unknown }).code;
    if (typeof raw === 'string' && SOCKET_ERRORS.has(raw)) return true;
    // A bulk write wraps the driver's network error as its errorResponse (not as a cause).
    const wrapped = (current as { errorResponse?: unknown }).errorResponse;
    current = wrapped instanceof Error ? wrapped : (current as { cause?: unknown }).cause;
  }
  return false;
}
