import { describe, expect, it } from 'vitest';
import { createIndexesOver } from '../../src/engine/target-catalog.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

describe('index creation over a stale index of the same name', () => {
  const clients = useSharedClients();

  it('replaces a destination index that holds the name with another key, and leaves the others', async () => {
    const { destination } = clients;
    const db = uniqueName('ixrep');
    const coll = destination.db(db).collection('c');
    await destination.db(db).createCollection('c');
    // What a replayed step meets: i1 as the source had it before it dropped and re-created it on another key.
    await coll.createIndexes([{ key: { n: 1 }, name: 'i1' }, { key: { k: 1 }, name: 'other' }]);
    await createIndexesOver(destination, { db, coll: 'c' }, [{ key: { v: 1 }, name: 'i1' }]);
    const indexes = Object.fromEntries((await coll.listIndexes().toArray()).map((i) => [i.name, i.key]));
    expect(indexes).toEqual({ _id_: { _id: 1 }, i1: { v: 1 }, other: { k: 1 } });
    // The same request again is a no-op, and any other refusal is still an error.
    await createIndexesOver(destination, { db, coll: 'c' }, [{ key: { v: 1 }, name: 'i1' }]);
    await expect(createIndexesOver(destination, { db, coll: 'c' }, [{ key: { v: 1 }, name: 'i2', unknownOption: true }])).rejects.toThrow();
  });
});
