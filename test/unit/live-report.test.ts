import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LiveReport } from '../../src/action/live-report.js';
import type { CommandOutcome, Progress } from '../../src/model.js';
import { tailOutcome } from './report-fixtures.js';

describe('LiveReport', () => {
  const progress = (phase: Progress['phase'], step?: string): Progress => ({ ...tailOutcome().progress!, phase, ...(step ? { step } : {}) });

  it('reports at the start, on every step change, at most once per interval otherwise, never after settle', async () => {
    const published: CommandOutcome[] = [];
    const live = new LiveReport('cutover', new Date('2026-11-29T16:00:00Z'), 60_000, async (o) => {
      await sleep(5);
      published.push(o);
    });
    live.start();
    await sleep(10);
    for (const step of ['lag-hold', 'lag-hold', 'lag-hold', 'write-block', 'drain', 'drain', 'verify']) {
      live.progress(progress('cutting-over', step));
      await sleep(10);
    }
    await live.settle();
    live.progress(progress('committed'));
    await sleep(10);
    expect(published.every((o) => o.running && o.exitCode === 0)).toBe(true);
    expect(published[0]!.summary).toContain('running since 2026-11-29T16:00:00.000Z');
    expect(published.slice(1).map((o) => o.progress?.step)).toEqual(['lag-hold', 'write-block', 'drain', 'verify']);
  });

  it('writes one report at a time and only the newest of those waiting', async () => {
    const published: string[] = [];
    let concurrent = 0;
    let most = 0;
    const live = new LiveReport('sync', new Date(), 0, async (o) => {
      most = Math.max(most, ++concurrent);
      await sleep(20);
      concurrent--;
      published.push(o.progress?.step ?? 'start');
    });
    live.start();
    await sleep(1); // the start report is being written: what follows waits behind it
    for (const step of ['a', 'b', 'c', 'd']) live.progress(progress('syncing', step));
    await sleep(100);
    await live.settle();
    expect(most).toBe(1);
    expect(published).toEqual(['start', 'd']);
  });
});
