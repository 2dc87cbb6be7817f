import { describe, expect, it } from 'vitest';
import { WriterLimit } from '../../src/engine/apply/writer-limit.js';
import { seededRandom } from '../../src/seeded-random.js';

/** Runs `commands` commands of 125 statements through a destination model: per-statement ms at a number in flight. */
function drive(limit: WriterLimit, commands: number, perStatementAt: (inFlight: number) => number, seed = 7): number[] {
  const random = seededRandom(seed);
  const seen: number[] = [];
  for (let i = 0; i < commands; i++) {
    const inFlight = limit.current();
    seen.push(inFlight);
    limit.record('put', 125, 125 * perStatementAt(inFlight) * (0.9 + random() * 0.2));
  }
  return seen;
}

describe('WriterLimit: write commands in flight, from what the destination answers', () => {
  it('a destination short of CPU (commands only queue beyond 1.5 at once): settles at 2-4, not at the 8 it started with', () => {
    const limit = new WriterLimit(8);
    const seen = drive(limit, 3000, (inFlight) => 0.2 * Math.max(1, inFlight / 1.5));
    const settled = seen.slice(-600).filter((n) => n > 1); // probes aside
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...settled)).toBeLessThanOrEqual(4);
  });

  it('a distant destination (a command is mostly round trip, the server has room): grows to the maximum', () => {
    const limit = new WriterLimit(8);
    // 5 ms of round trip per command, 20 µs per statement, queueing only past 64 in flight.
    const seen = drive(limit, 3000, (inFlight) => (5 + 125 * 0.02 * Math.max(1, inFlight / 64)) / 125);
    expect(seen.slice(-100).filter((n) => n > 1).every((n) => n === 16)).toBe(true);
  });

  it('small commands say nothing: the limit stays where it is, and no probe holds it at one', () => {
    const limit = new WriterLimit(8);
    for (let i = 0; i < 500; i++) {
      expect(limit.current()).toBe(8);
      limit.record('put', 5, 3);
    }
  });

  it('after one large batch, a trickle of small ones ends the probe: the limit is not held at one', () => {
    const limit = new WriterLimit(8);
    limit.record('put', 125, 25); // one large command: measuring starts, and with it the first probe
    expect(limit.current()).toBe(1);
    for (let i = 0; i < 11; i++) limit.record('put', 3, 2);
    expect(limit.current()).toBe(8);
  });
});
