import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/log.js';
import { CommandStalled, settledWithin, withinBound } from '../../src/mongo/stall-bound.js';
import { isTransient } from '../../src/mongo/server-errors.js';
import { StallWatch } from '../../src/engine/stall-watch.js';

describe('bounded waits', () => {
  it('an operation past its bound is aborted with a transient CommandStalled; one within it is left alone', async () => {
    const aborted = withinBound('a getMore on db.coll', 50, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))));
    const error = await aborted.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandStalled);
    expect(isTransient(error)).toBe(true);
    expect((error as Error).message).toMatch(/a getMore on db\.coll got no reply within 0 s/);
    await expect(withinBound('quick', 1000, async (signal) => (await sleep(10), signal.aborted))).resolves.toBe(false);
  });

  it('settledWithin says whether a promise settled in time, a rejection included', async () => {
    expect(await settledWithin(sleep(10), 500)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('x')), 500)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 30)).toBe(false);
    expect(await settledWithin(undefined, 30)).toBe(true);
  });

  it('a stage that waits past the report time is named in the log, once per period', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, callback) => (lines.push(chunk.toString()), callback()) });
    const watch = new StallWatch(createLogger({ level: 'warn', destination }), 'the tail', 40);
    watch.enter('reading the change stream');
    await sleep(150);
    watch.enter('writing to the destination');
    await sleep(20);
    watch.stop();
    const reported = lines.map((line) => JSON.parse(line) as { stage: string; msg: string });
    expect(reported.length).toBeGreaterThanOrEqual(1);
    expect(reported.length).toBeLessThanOrEqual(3);
    expect(reported.every((r) => r.stage === 'reading the change stream')).toBe(true);
    expect(reported[0]!.msg).toMatch(/the tail has waited \d+ s in one stage \(reading the change stream\)/);
  });
});
