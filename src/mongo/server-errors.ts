/**
 * The server errors the engine reacts to, by name. Codes are read with Number(): replies decoded with
 * promoteValues: false (change streams, raw cursors) carry them as Int32.
 */
export const SERVER_ERROR = {
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  NamespaceExists: 48,
  DuplicateKey: 11000,
  ChangeStreamHistoryLost: 286,
  OplogQueryMinTsMissing: 280,
  CollectionUUIDMismatch: 361,
} as const;

export function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === undefined || code === null ? undefined : Number(code);
}

export const isNamespaceExists = (error: unknown): boolean => errorCode(error) === SERVER_ERROR.NamespaceExists;
export const isNamespaceNotFound = (error: unknown): boolean => errorCode(error) === SERVER_ERROR.NamespaceNotFound;

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
