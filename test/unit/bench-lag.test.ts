import { describe, expect, it } from 'vitest';
import { lagAtInstant } from '../../bench/tail.js';

describe("the bench's lag at the instant of a read", () => {
  const writes = [1_000, 1_010, 1_020, 1_500];

  it("is the primary's newest write at or before the read, minus what the side had applied", () => {
    expect(lagAtInstant(writes, { at: 1_015, applied: 1_000 })).toEqual([0.01]);
    expect(lagAtInstant(writes, { at: 1_020, applied: 1_000 })).toEqual([0.02]);
    // Writes after the read do not count against it: the old sampling charged them.
    expect(lagAtInstant(writes, { at: 1_499, applied: 1_020 })).toEqual([0]);
    expect(lagAtInstant(writes, { at: 1_600, applied: 1_020 })).toEqual([0.48]);
  });

  it('gives no sample before the first write it knows of', () => {
    expect(lagAtInstant(writes, { at: 999, applied: 900 })).toEqual([]);
    expect(lagAtInstant([], { at: 2_000, applied: 900 })).toEqual([]);
  });
});
