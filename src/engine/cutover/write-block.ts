import type { MongoClient } from 'mongodb';

/**
 * The source's user write block (MongoDB 6.0+): while on, every user write is rejected, so nothing can land
 * on the source after the final time the cutover drains to.
 */
export async function setSourceWriteBlock(source: MongoClient, on: boolean): Promise<void> {
  await source.db('admin').command({ setUserWriteBlockMode: 1, global: on });
}
