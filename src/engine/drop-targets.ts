import { splitNamespace } from './namespaces.js';
import type { MigrationRun } from './run.js';

/** Drops the destination collections this migration created (and nothing else); returns those that existed. */
export async function dropMigrationTargets(run: MigrationRun): Promise<string[]> {
  const dropped: string[] = [];
  for (const collection of run.doc.collections) {
    const { db, coll } = splitNamespace(collection.target);
    const gone = await run.destination.db(db).collection(coll).drop().catch((error: { code?: number }) => {
      if (error.code === 26) return false; // already gone
      throw error;
    });
    if (gone) dropped.push(collection.target);
  }
  return dropped;
}
