import { describe, expect, it } from 'vitest';
import { createIndexesOver } from '../../src/engine/target-catalog.js';
import { uniqueName, useSharedClients } from '../support/clusters.js';

describe('index creation over a stale index it collides with', () => {
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

  it('replaces the same index under another name, and a same-named index with other options; keeps an index that differs by collation', async () => {
    const { destination } = clients;
    const db = uniqueName('ixrep');
    const coll = destination.db(db).collection('c');
    await destination.db(db).createCollection('c');
    const french = { locale: 'fr' };
    await coll.createIndexes([{ key: { n: 1 }, name: 'old' }, { key: { n: 1 }, name: 'n_fr', collation: french }, { key: { s: 1 }, name: 's' }]);
    // The source renamed the index (dropped `old`, created `new` on the same key) and made `s` sparse.
    await createIndexesOver(destination, { db, coll: 'c' }, [{ key: { n: 1 }, name: 'new' }, { key: { s: 1 }, name: 's', sparse: true }]);
    const indexes = Object.fromEntries((await coll.listIndexes().toArray()).map((i) => [i.name, { key: i.key, sparse: i.sparse === true, locale: (i.collation as { locale?: string } | undefined)?.locale }]));
    expect(indexes).toEqual({
      _id_: { key: { _id: 1 }, sparse: false, locale: undefined },
      new: { key: { n: 1 }, sparse: false, locale: undefined },
      n_fr: { key: { n: 1 }, sparse: false, locale: 'fr' },
      s: { key: { s: 1 }, sparse: true, locale: undefined },
    });
  });
});
