import { describe, expect, it } from 'vitest';
import { seeded } from '../support/seeded.js';

describe('seeded', () => {
  it('names the seed and how to rerun it in the failure message', async () => {
    const body = seeded('fuzz', 42)(async () => {
      expect(1).toBe(2);
    });
    await expect(body()).rejects.toThrow(/^\[fuzz\] seed=42 \(rerun with MLM_SEED=42\): expected 1 to be 2/);
  });

  it('returns what the body returns when it passes', async () => {
    await expect(seeded('fuzz', 7, 'MLM_CRASH_SEED')(async () => 'done')()).resolves.toBe('done');
  });
});
