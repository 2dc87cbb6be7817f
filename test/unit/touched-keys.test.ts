import { describe, expect, it } from 'vitest';
import { BSON, Double, Int32, Long, Timestamp } from 'mongodb';
import { TouchedKeys } from '../../src/engine/verify/continuous/touched-keys.js';

const key = (id: number): Buffer => Buffer.from(BSON.serialize({ _id: id }));
const ts = (t: number): Timestamp => new Timestamp({ t, i: 1 });

describe('TouchedKeys: which destination writes a comparison of the logged touches covers', () => {
  it('covers every write while a comparison is to come, then only writes at or before the time it read as of', () => {
    const keys = new TouchedKeys();
    expect(keys.covers('a.c', key(1), ts(5))).toBe(false);
    keys.pending('a.c', key(1), ts(10));
    expect(keys.covers('a.c', key(1), ts(99))).toBe(true);
    expect(keys.covers('a.d', key(1), ts(5))).toBe(false); // another namespace
    keys.compared('a.c', key(1), ts(10), ts(50));
    expect(keys.covers('a.c', key(1), ts(50))).toBe(true);
    expect(keys.covers('a.c', key(1), ts(51))).toBe(false);
  });

  it('a touch logged after the one compared keeps its comparison to come', () => {
    const keys = new TouchedKeys();
    keys.pending('a.c', key(1), ts(10));
    keys.pending('a.c', key(1), ts(20));
    keys.compared('a.c', key(1), ts(10), ts(50));
    expect(keys.covers('a.c', key(1), ts(99))).toBe(true);
    keys.compared('a.c', key(1), ts(20), ts(60));
    expect(keys.covers('a.c', key(1), ts(61))).toBe(false);
  });

  it('forgets the oldest keys past its capacity: their writes are then queued, never skipped', () => {
    const keys = new TouchedKeys();
    for (let i = 0; i <= 100_000; i++) keys.pending('a.c', key(i), ts(1));
    expect(keys.covers('a.c', key(0), ts(1))).toBe(false);
    expect(keys.covers('a.c', key(100_000), ts(1))).toBe(true);
  });

  it('keeps a key touched again past the capacity, and a row it reuses starts with its comparison to come', () => {
    const keys = new TouchedKeys();
    for (let i = 0; i < 100_000; i++) keys.pending('a.c', key(i), ts(1));
    keys.compared('a.c', key(0), ts(1), ts(5));
    keys.pending('a.c', key(0), ts(2)); // touched again: now the newest
    keys.compared('a.c', key(1), ts(1), ts(5));
    keys.pending('a.c', key(100_000), ts(3)); // forgets key 1, the oldest now, and takes its row
    expect(keys.covers('a.c', key(1), ts(1))).toBe(false);
    expect(keys.covers('a.c', key(0), ts(99))).toBe(true); // its second touch is still to be compared
    expect(keys.covers('a.c', key(100_000), ts(99))).toBe(true); // not key 1's comparison, whose row it took
  });

  it('tells apart equal values of different BSON types, and namespaces', () => {
    const keys = new TouchedKeys();
    keys.pending('a.c', Buffer.from(BSON.serialize({ _id: new Int32(1) })), ts(1));
    expect(keys.covers('a.c', Buffer.from(BSON.serialize({ _id: new Long(1) })), ts(1))).toBe(false);
    expect(keys.covers('a.c', Buffer.from(BSON.serialize({ _id: new Double(1) })), ts(1))).toBe(false);
    expect(keys.covers('a.cc', Buffer.from(BSON.serialize({ _id: new Int32(1) })), ts(1))).toBe(false);
    expect(keys.covers('a.c', Buffer.from(BSON.serialize({ _id: new Int32(1) })), ts(1))).toBe(true);
  });

  it('orders times by increment within a second, and seconds past 2^31', () => {
    const keys = new TouchedKeys();
    const at = (t: number, i: number): Timestamp => new Timestamp({ t, i });
    keys.pending('a.c', key(1), at(2 ** 31 + 7, 3));
    keys.compared('a.c', key(1), at(2 ** 31 + 7, 2), at(2 ** 31 + 9, 0)); // an earlier touch's comparison
    expect(keys.covers('a.c', key(1), at(2 ** 32 - 1, 9))).toBe(true);
    keys.compared('a.c', key(1), at(2 ** 31 + 7, 3), at(2 ** 31 + 9, 5));
    expect(keys.covers('a.c', key(1), at(2 ** 31 + 9, 5))).toBe(true);
    expect(keys.covers('a.c', key(1), at(2 ** 31 + 9, 6))).toBe(false);
    expect(keys.covers('a.c', key(1), at(2 ** 31 + 8, 2 ** 32 - 1))).toBe(true);
    expect(keys.covers('a.c', key(1), at(2 ** 31 + 10, 0))).toBe(false);
  });
});
