import type { ChangeStream, Document, MongoClient, Timestamp } from 'mongodb';
import { OperationError } from '../../errors.js';
import { SYSTEM_DBS, type NamespaceFilter } from '../namespaces.js';
import { EXACT_TYPES } from '../copy/copy-partition.js';

export type Position = { resumeAfter: Document } | { startAtOperationTime: Timestamp } | { now: true };

/** Server error code when a resume point is no longer in the oplog. */
const HISTORY_LOST = [286, 280];

/**
 * Opens the cluster-wide change stream the migration reads from: every database, DDL included
 * (showExpandedEvents), updates with the current document (updateLookup), exact BSON types.
 * The server drops system databases; the rest is filtered here with the namespace rules.
 */
export function openChangeStream(source: MongoClient, position: Position, batchSize: number): ChangeStream<Document, Document> {
  const pipeline = [{ $match: { 'ns.db': { $nin: [...SYSTEM_DBS] } } }];
  const at = 'resumeAfter' in position ? { resumeAfter: position.resumeAfter } : 'startAtOperationTime' in position ? { startAtOperationTime: position.startAtOperationTime } : {};
  return source.watch<Document, Document>(pipeline, {
    ...at,
    fullDocument: 'updateLookup',
    showExpandedEvents: true,
    maxAwaitTimeMS: 250,
    batchSize,
    ...EXACT_TYPES,
  });
}

/** Whether a change event concerns the migration. */
export function isRelevant(event: Document, filter: NamespaceFilter): boolean {
  const nsDoc = event.ns as { db?: string; coll?: string } | undefined;
  const db = nsDoc?.db;
  if (!db || SYSTEM_DBS.has(db)) return false;
  const type = event.operationType as string;
  if (type === 'dropDatabase') return filter.mayIncludeDatabase(db);
  if (!nsDoc?.coll) return false;
  if (type === 'rename') {
    const to = event.to as { db: string; coll: string };
    return filter.includes(db, nsDoc.coll) || filter.includes(to.db, to.coll);
  }
  return filter.includes(db, nsDoc.coll);
}

/** The error to stop with when the saved position has rolled off the source oplog. */
export function historyLostError(name: string, error: unknown): OperationError | undefined {
  // The stream decodes with promoteValues: false, which reaches its errors too: code is then an Int32.
  const code = Number((error as { code?: unknown }).code);
  if (!HISTORY_LOST.includes(code)) return undefined;
  return new OperationError(
    `the saved position of migration "${name}" is no longer in the source oplog: changes in between are gone, so the destination cannot be brought up to date`,
    `re-sync: run \`abort --drop-destination\` then \`sync\`, and enlarge the source oplog (replSetResizeOplog) or run tail more often`,
  );
}
