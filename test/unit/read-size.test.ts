import { describe, expect, it } from 'vitest';
import { eventsPerRead, READ_BYTES } from '../../src/engine/capture/raw-change-stream.js';

const events = (count: number, bytes: number): Buffer[] => Array.from({ length: count }, () => Buffer.alloc(bytes));

describe('events a getMore of the change stream asks for', () => {
  it('keeps the batch size while events are small', () => {
    expect(eventsPerRead(events(40, 500), 2_500)).toBe(2_500);
  });

  it('asks for a reply of about READ_BYTES once the events are large', () => {
    const size = eventsPerRead(events(900, 16 * 1024 + 300), 2_500);
    expect(size).toBe(Math.floor(READ_BYTES / (16 * 1024 + 300)));
    expect(size * (16 * 1024 + 300)).toBeLessThanOrEqual(READ_BYTES);
  });

  it('judges by the mean size of the read: one large event among small ones lowers it in proportion', () => {
    const read = [...events(99, 1_000), Buffer.alloc(4 * 1024 * 1024)];
    const mean = (99 * 1_000 + 4 * 1024 * 1024) / 100;
    expect(eventsPerRead(read, 2_500)).toBe(Math.floor(READ_BYTES / mean));
  });

  it('asks for one event at a time when one event fills the reply (fragments of a split event)', () => {
    expect(eventsPerRead(events(1, 15 * 1024 * 1024), 2_500)).toBe(1);
  });
});
