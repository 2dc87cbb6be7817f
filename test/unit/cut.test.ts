import { describe, expect, it } from 'vitest';
import { cut } from '../../src/engine/apply/cut.js';

describe('cut', () => {
  const size = (n: number): number => n;

  it('keeps the order and cuts at the count', () => {
    expect(cut([1, 1, 1, 1, 1], 2, 100, size)).toEqual([[1, 1], [1, 1], [1]]);
  });

  it('cuts before the bytes would pass the bound, and an item larger than the bound goes alone', () => {
    expect(cut([3, 3, 3, 50, 1], 10, 7, size)).toEqual([[3, 3], [3], [50], [1]]);
  });

  it('counts each item by its weight when one is given (documents per command, not statements)', () => {
    const weight = (n: number): number => n;
    expect(cut([2, 2, 3, 1, 5], 4, 100, () => 0, weight)).toEqual([[2, 2], [3, 1], [5]]);
  });

  it('makes nothing of nothing', () => {
    expect(cut([], 10, 10, size)).toEqual([]);
  });
});
