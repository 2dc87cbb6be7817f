import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { DestinationTermChanged, WriteTerms } from '../../src/engine/apply/write-terms.js';
import { isTransient } from '../../src/mongo/server-errors.js';
import { checkedReply, type StateStore } from '../../src/engine/state/store.js';
import type { Fence } from '../../src/engine/state/types.js';

/**
 * A state store whose primary is in `term`; the fences are kept (or lost, as by a rollback) as told. A save's
 * majority write waits for `hold` when one is given (a save still waiting for its majority).
 */
function fakeStore(options: { term: number; fenceTerm?: number; keepFence?: boolean; hold?: () => Promise<void> }) {
  const calls: string[] = [];
  const fences = new Map<string, string>();
  const store = {
    name: 'm',
    async writeFence(_owner: string, fence: Fence): Promise<Document> {
      calls.push(`fence ${fence.field}`);
      if (options.keepFence !== false) fences.set(fence.field, fence.value);
      return { n: 1, opTime: { t: options.fenceTerm ?? options.term } };
    },
    async updateFenced(_owner: string, fence: Fence | undefined, set: Document): Promise<Document> {
      const label = `${fence === undefined ? 'save' : `save-fenced ${fence.field}`}${set.at === undefined ? '' : ` ${String(set.at)}`}`;
      if (options.hold) {
        calls.push(`${label} sent`);
        await options.hold();
      }
      calls.push(label);
      return { n: fence === undefined || fences.get(fence.field) === fence.value ? 1 : 0, opTime: { t: options.term } };
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
    expect(calls).toEqual(['fence saveFence', 'save-fenced saveFence']);
    // Nothing written since: no fence needed.
    await terms.save(store, 'me', {});
    expect(calls).toEqual(['fence saveFence', 'save-fenced saveFence', 'save']);
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
    expect(calls).toEqual(['fence saveFence']);
  });

  it('refuses when the fence was rolled back before the save found it', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3, keepFence: false });
    terms.acknowledged({ opTime: { t: 3 } });
    await expect(terms.save(store, 'me', {})).rejects.toBeInstanceOf(DestinationTermChanged);
    expect(calls).toEqual(['fence saveFence', 'save-fenced saveFence']);
  });

  it('writes acknowledged after a save started belong to the next one', async () => {
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3 });
    const saving = terms.save(store, 'me', {});
    terms.acknowledged({ opTime: { t: 3 } });
    await saving;
    expect(calls).toEqual(['save']);
    await terms.save(store, 'me', {});
    expect(calls).toEqual(['save', 'fence saveFence2', 'save-fenced saveFence2']);
  });

  it('a reply without a term is an error, not a guess', async () => {
    const terms = new WriteTerms();
    const { store } = fakeStore({ term: 3 });
    terms.acknowledged({ n: 1 });
    await expect(terms.save(store, 'me', {})).rejects.toThrow(/no replication term/);
  });
});

/** A gate a test opens by hand: the saves' majority writes wait at it, in the order they reach it. */
function gates() {
  const waiting: (() => void)[] = [];
  return {
    hold: () => new Promise<void>((resolve) => waiting.push(resolve)),
    openNext: () => waiting.shift()?.(),
    get held() {
      return waiting.length;
    },
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WriteTerms: overlapping saves', () => {
  it('writes the next fence while the save before waits for its majority, and saves in order', async () => {
    const gate = gates();
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3, hold: gate.hold });
    terms.acknowledged({ opTime: { t: 3 } });
    const first = terms.save(store, 'me', { at: 1 });
    terms.acknowledged({ opTime: { t: 3 } });
    const second = terms.save(store, 'me', { at: 2 });
    await turn();
    // The second fence is written (in the other field) while the first save waits; the second save is not sent.
    expect(calls).toEqual(['fence saveFence', 'fence saveFence2', 'save-fenced saveFence 1 sent']);
    gate.openNext();
    await first;
    await turn();
    expect(calls.slice(3)).toEqual(['save-fenced saveFence 1', 'save-fenced saveFence2 2 sent']);
    gate.openNext();
    await second;
    expect(calls.at(-1)).toBe('save-fenced saveFence2 2');
  });

  it("a fence waits for the end of the save that last used its field", async () => {
    const gate = gates();
    const terms = new WriteTerms();
    const { store, calls } = fakeStore({ term: 3, hold: gate.hold });
    const saves: Promise<void>[] = [];
    for (const at of [1, 2, 3]) {
      terms.acknowledged({ opTime: { t: 3 } });
      saves.push(terms.save(store, 'me', { at }));
    }
    await turn();
    expect(calls).toEqual(['fence saveFence', 'fence saveFence2', 'save-fenced saveFence 1 sent']);
    gate.openNext();
    await turn();
    // The first save ended: its field is free for the third fence, and the second save is sent.
    expect(calls[3]).toBe('save-fenced saveFence 1');
    expect(calls.slice(4).sort()).toEqual(['fence saveFence', 'save-fenced saveFence2 2 sent']);
    gate.openNext();
    await turn();
    gate.openNext();
    await Promise.all(saves);
    expect(calls.slice(6)).toEqual(['save-fenced saveFence2 2', 'save-fenced saveFence 3 sent', 'save-fenced saveFence 3']);
  });

  it('a save whose predecessor was refused writes nothing, though its own fence was written', async () => {
    const gate = gates();
    const terms = new WriteTerms();
    const fences = fakeStore({ term: 3, hold: gate.hold });
    // The first save's majority write finds no fence (rolled back), as after a failover while it waited.
    const store = {
      ...(fences.store as unknown as Record<string, unknown>),
      updateFenced: async (owner: string, fence: Fence | undefined, set: Document) => {
        const reply = await (fences.store.updateFenced as (o: string, f: Fence | undefined, s: Document) => Promise<Document>)(owner, fence, set);
        return set.at === 1 ? { ...reply, n: 0 } : reply;
      },
    } as unknown as StateStore;
    terms.acknowledged({ opTime: { t: 3 } });
    const first = terms.save(store, 'me', { at: 1 });
    terms.acknowledged({ opTime: { t: 3 } });
    const second = terms.save(store, 'me', { at: 2 });
    const refusals = Promise.allSettled([first, second]);
    await turn();
    gate.openNext();
    const [a, b] = await refusals;
    expect(a).toMatchObject({ status: 'rejected', reason: expect.any(DestinationTermChanged) });
    expect(b).toMatchObject({ status: 'rejected', reason: expect.any(DestinationTermChanged) });
    expect(fences.calls).toEqual(['fence saveFence', 'fence saveFence2', 'save-fenced saveFence 1 sent', 'save-fenced saveFence 1']);
    expect(gate.held).toBe(0);
    await expect(terms.save(store, 'me', {})).rejects.toBeInstanceOf(DestinationTermChanged);
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
