import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { DestinationTermChanged, WriteTerms } from '../../src/engine/apply/write-terms.js';
import { isTransient } from '../../src/mongo/server-errors.js';
import { checkedReply, type StateStore } from '../../src/engine/state/store.js';

/** A state store whose primary is in `term`; the fence is kept (or lost, as by a rollback) as told. */
function fakeStore(options: { term: number; fenceTerm?: number; keepFence?: boolean }) {
  const calls: string[] = [];
  let fence: string | undefined;
  const store = {
    name: 'm',
    async writeFence(_owner: string, value: string): Promise<Document> {
      calls.push('fence');
      if (options.keepFence !== false) fence = value;
      return { n: 1, opTime: { t: options.fenceTerm ?? options.term } };
    },
    async updateFenced(_owner: string, value: string | undefined): Promise<Document> {
      calls.push(value === undefined ? 'save' : 'save-fenced');
      return { n: value === undefined || value === fence ? 1 : 0, opTime: { t: options.term } };
    },
    async get(): Promise<Document> {
      return { lease: { owner: 'me' } };
    },
  };
  return { store: store as unknown as StateStore, calls };
}

describe('WriteTerms: a saved position never covers a w: 1 write of another term', () => {
  it('saves behind a fence when the data and the fence share a term', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3 });
    terms.acknowledged({ n: 5, opTime: { t: 3 } });
    await terms.save(store, 'me', {});
    expect(calls).toEqual(['fence', 'save-fenced']);
    // Nothing written since: no fence needed.
    await terms.save(store, 'me', {});
    expect(calls).toEqual(['fence', 'save-fenced', 'save']);
  });

  it('refuses data written in two terms, and every later save', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 4 });
    terms.acknowledged({ opTime: { t: 3 } });
    terms.acknowledged({ opTime: { t: 4 } });
    const refused = await terms.save(store, 'me', {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DestinationTermChanged);
    expect(isTransient(refused)).toBe(true);
    await expect(terms.save(store, 'me', {})).rejects.toBeInstanceOf(DestinationTermChanged);
    expect(calls).toEqual([]);
  });

  it('refuses without saving when the fence lands in a newer term (a failover after the writes)', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 4, fenceTerm: 4 });
    terms.acknowledged({ opTime: { t: 3 } });
    await expect(terms.save(store, 'me', {})).rejects.toBeInstanceOf(DestinationTermChanged);
    expect(calls).toEqual(['fence']);
  });

  it('refuses when the fence was rolled back before the save found it', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3, keepFence: false });
    terms.acknowledged({ opTime: { t: 3 } });
    await expect(terms.save(store, 'me', {})).rejects.toBeInstanceOf(DestinationTermChanged);
    expect(calls).toEqual(['fence', 'save-fenced']);
  });

  it('writes acknowledged after a save started belong to the next one', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3 });
    const saving = terms.save(store, 'me', {});
    terms.acknowledged({ opTime: { t: 3 } });
    await saving;
    expect(calls).toEqual(['save']);
    await terms.save(store, 'me', {});
    expect(calls).toEqual(['save', 'fence', 'save-fenced']);
  });

  it('a reply without a term is an error, not a guess', async () => {
    const terms = new WriteTerms();
    const { store } = fakeStore({ term: 3 });
    terms.acknowledged({ n: 1 });
    await expect(terms.save(store, 'me', {})).rejects.toThrow(/no replication term/);
  });
});

describe('write command replies with errors inside', () => {
  it('a write interrupted by a step-down (ok: 1, n: 0, the error inside) is the transient error, not "nothing matched"', () => {
    const interrupted = { ok: 1, n: 0, writeErrors: [{ index: 0, code: 11602, errmsg: 'operation was interrupted because of a replica set state change' }] };
    let thrown: unknown;
    try {
      checkedReply(interrupted, 'writing the save fence');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 11602, message: 'writing the save fence: operation was interrupted because of a replica set state change' });
    expect(isTransient(thrown)).toBe(true);
    expect(() => checkedReply({ ok: 1, n: 1, writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } }, 'saving the position')).toThrow(/write concern error saving the position: waiting for replication timed out/);
    expect(checkedReply({ ok: 1, n: 0 }, 'x')).toEqual({ ok: 1, n: 0 });
  });
});
