import type { Document, Timestamp } from 'mongodb';
import { OperationError } from '../../errors.js';
import { isHistoryLost } from '../../mongo/server-errors.js';
import { SYSTEM_DBS, type NamespaceFilter } from '../../namespaces.js';
import type { ChangeEvent } from './change-event.js';

export type Position = { resumeAfter: Document } | { startAtOperationTime: Timestamp } | { now: true };

/** Whether a change event concerns the migration. */
export function isRelevant(event: ChangeEvent, filter: NamespaceFilter): boolean {
  const { db, coll } = event.ns;
  if (SYSTEM_DBS.has(db)) return false;
  if (event.type === 'dropDatabase') return filter.mayIncludeDatabase(db);
  if (!coll) return false;
  if (event.type === 'rename' && event.to) return filter.includes(db, coll) || filter.includes(event.to.db, event.to.coll);
  return filter.includes(db, coll);
}

/**
 * The server-side part of isRelevant: events of the databases the migration reads (a rename also by where it
 * goes). Everything else on the source cluster never leaves the server; isRelevant decides the rest.
 */
export function sourceEventMatch(filter: NamespaceFilter): Document | undefined {
  const databases = filter.sourceDatabaseCondition();
  return databases && { $or: [{ 'ns.db': databases }, { 'to.db': databases }] };
}

/** The error to stop with when the saved position has rolled off the source oplog. */
export function historyLostError(name: string, error: unknown): OperationError | undefined {
  if (!isHistoryLost(error)) return undefined;
  return new OperationError(
    `the saved position of migration "${name}" is no longer in the source oplog: changes in between are gone, so the destination cannot be brought up to date`,
    `re-sync: run \`abort --drop-destination --confirm ${name}\` then \`sync\`, and enlarge the source oplog (replSetResizeOplog) or run tail more often`,
  );
}
