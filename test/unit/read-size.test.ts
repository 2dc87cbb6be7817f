import { describe, expect, it } from 'vitest';
import { readSize } from '../../src/engine/copy/raw-cursor.js';

const REPLY = 4 * 1024 * 1024;
const docs = (count: number, bytes: number): Buffer[] => Array.from({ length: count }, () => Buffer.alloc(bytes));

describe('documents a getMore asks for after a read (raw-cursor readSize)', () => {
  it('keeps the batch size while documents are small', () => {
    expect(readSize(docs(40, 500), 2_500, REPLY)).toBe(2_500);
  });

  it('asks for a reply of about replyBytes once the documents are large', () => {
    const size = readSize(docs(900, 16 * 1024 + 300), 2_500, REPLY);
    expect(size).toBe(Math.floor(REPLY / (16 * 1024 + 300)));
    expect(size * (16 * 1024 + 300)).toBeLessThanOrEqual(REPLY);
  });

  it('judges by the mean size of the read: one large document among small ones lowers it in proportion', () => {
    const read = [...docs(99, 1_000), Buffer.alloc(4 * 1024 * 1024)];
    const mean = (99 * 1_000 + 4 * 1024 * 1024) / 100;
    expect(readSize(read, 2_500, REPLY)).toBe(Math.floor(REPLY / mean));
  });

  it('asks for one at a time when one fills the reply (fragments of a split event)', () => {
    expect(readSize(docs(1, 15 * 1024 * 1024), 2_500, REPLY)).toBe(1);
  });
});
