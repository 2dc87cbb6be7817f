import type { MongoClient, Timestamp } from 'mongodb';

/** The operation time of the source's newest write: a capture start, a cutover's final time, a rehearsal's frozen point. */
export async function lastWriteTime(source: MongoClient): Promise<Timestamp> {
  const hello = await source.db('admin').command({ hello: 1 });
  return (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
}

/** Returns once `time` is majority-committed on the source: from then on a change stream sees everything up to it. */
export async function waitUntilMajorityCommitted(source: MongoClient, time: Timestamp): Promise<void> {
  await source.db('admin').command({ find: 'system.version', filter: {}, limit: 1, readConcern: { level: 'majority', afterClusterTime: time } });
}
