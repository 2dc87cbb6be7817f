import type { Db, MongoClient } from 'mongodb';

const cache = new WeakMap<MongoClient, Map<string, Db>>();

/**
 * The client's Db handle for `name`, made once. `client.db()` builds a new handle each call, resolving every
 * option again: on the tail's path (a few commands per batch) that was a measurable share of its CPU.
 * A Db handle holds no connection and no state beyond its options, so one per name is safe to keep.
 */
export function database(client: MongoClient, name: string): Db {
  let byName = cache.get(client);
  if (!byName) cache.set(client, (byName = new Map()));
  let db = byName.get(name);
  if (!db) byName.set(name, (db = client.db(name)));
  return db;
}
