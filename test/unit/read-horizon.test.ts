import { describe, expect, it } from 'vitest';
import { Int32, Long, Timestamp } from 'mongodb';
import { ReadHorizon } from '../../src/engine/apply/read-horizon.js';
import { sameDocumentKey } from '../../src/engine/apply/id-key.js';

const at = (t: number, i = 1): Timestamp => new Timestamp({ t, i });
const UUID = 'aa';

describe('ReadHorizon', () => {
  it('lets an event apply its delta only after every read whose document the destination may hold', () => {
    const horizon = new ReadHorizon(at(100), async () => undefined);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(1)), at(100))).toBe(false); // at the horizon: the read may include it
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(1)), at(101))).toBe(true);
    horizon.readAt(UUID, sameDocumentKey(new Int32(1)), at(120));
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(1)), at(110))).toBe(false);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(1)), at(120))).toBe(false);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(1)), at(121))).toBe(true);
    // By the server's _id equality: the read of 1 covers NumberLong(1); another collection is another document.
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(Long.fromNumber(1)), at(110))).toBe(false);
    expect(horizon.holdsPreImage('bb', sameDocumentKey(new Int32(1)), at(110))).toBe(true);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(new Int32(2)), at(110))).toBe(true);
  });

  it('covers reads it cannot name with one time for everything', () => {
    const horizon = new ReadHorizon(at(100), async () => undefined);
    horizon.readAt(UUID, sameDocumentKey('a'), at(150));
    horizon.readAtForAll(at(130));
    expect(horizon.holdsPreImage(UUID, sameDocumentKey('b'), at(130))).toBe(false);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey('b'), at(131))).toBe(true);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey('a'), at(140))).toBe(false); // its own later read still counts
  });

  it('forgets a document once the applied position passed its read, and not before', () => {
    const horizon = new ReadHorizon(at(100), async () => undefined);
    for (let n = 0; n < 12_000; n++) horizon.readAt(UUID, sameDocumentKey(n), at(n < 6000 ? 110 : 130));
    horizon.passed(at(120));
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(1), at(111))).toBe(true);
    expect(horizon.holdsPreImage(UUID, sameDocumentKey(7000), at(125))).toBe(false);
  });

  it('keeps the horizon ahead of every read before its document lands, in order, and raises again after a failure', async () => {
    const kept: number[] = [];
    let fail = false;
    const horizon = new ReadHorizon(at(100), async (time) => {
      if (fail) throw new Error('lost the lease');
      kept.push(time.t);
    });
    await horizon.cover(at(99)); // older than the kept horizon: no write
    expect(kept).toEqual([]);
    await Promise.all([horizon.cover(at(110)), horizon.cover(at(112))]);
    expect(kept).toEqual([115]); // a few seconds past the read: the reads of those seconds need no write
    await horizon.cover(at(120));
    expect(kept).toEqual([115, 125]);
    fail = true;
    await expect(horizon.cover(at(130))).rejects.toThrow('lost the lease');
    fail = false;
    await horizon.cover(at(126));
    expect(kept).toEqual([115, 125, 131]);
  });
});
