import { describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { database } from '../../src/mongo/databases.js';

describe('database handles', () => {
  it('are made once per client and name, and are the handles the client would make', async () => {
    // Never connected: a handle needs no server.
    const a = new MongoClient('mongodb://127.0.0.1:1/?readPreference=secondaryPreferred');
    const b = new MongoClient('mongodb://127.0.0.1:1/');
    try {
      expect(database(a, 'x')).toBe(database(a, 'x'));
      expect(database(a, 'x')).not.toBe(database(a, 'y'));
      expect(database(a, 'x')).not.toBe(database(b, 'x'));
      expect(database(a, 'x').databaseName).toBe('x');
      expect(database(a, 'x').readPreference.mode).toBe('secondaryPreferred');
      expect(database(b, 'x').readPreference.mode).toBe('primary');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
