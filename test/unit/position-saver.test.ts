import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { PositionSaver } from '../../src/engine/position-saver.js';

interface Saved {
  token: string;
  wallTime: number | undefined;
  events: number;
  snapshot: Document;
}

/** A saver whose saves end when the test says, in the order they started. */
function controlledSaver(): { saver: PositionSaver; saved: Saved[]; finish: () => void; fail: (error: Error) => void } {
  const saved: Saved[] = [];
  const running: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const saver = new PositionSaver((token, wallTime, events, snapshot) => {
    saved.push({ token: String(token._data), wallTime: wallTime?.getTime(), events, snapshot });
    return new Promise<void>((resolve, reject) => running.push({ resolve, reject }));
  });
  return { saver, saved, finish: () => running.shift()?.resolve(), fail: (error) => running.shift()?.reject(error) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PositionSaver', () => {
  it('runs two saves at once; a batch that ends during both is saved as soon as the first ends, with what its batch ended with', async () => {
    const { saver, saved, finish } = controlledSaver();
    saver.applied(10, new Date(1000));
    saver.start({ _data: 'a' }, { lagSeconds: 4 });
    saver.applied(5, new Date(2000));
    saver.start({ _data: 'b' }, { lagSeconds: 3 });
    saver.applied(7, new Date(3000));
    saver.start({ _data: 'c' }, { lagSeconds: 2 });
    saver.applied(1, new Date(4000));
    saver.start({ _data: 'd' }, { lagSeconds: 1 });
    expect(saved.map((s) => s.token)).toEqual(['a', 'b']);
    finish();
    await tick();
    // Not at the next batch's end: at once, and the newest position only (it covers c).
    expect(saved.map((s) => s.token)).toEqual(['a', 'b', 'd']);
    expect(saved[1]).toEqual({ token: 'b', wallTime: 2000, events: 5, snapshot: { lagSeconds: 3 } });
    expect(saved[2]).toEqual({ token: 'd', wallTime: 4000, events: 8, snapshot: { lagSeconds: 1 } });
    let settled = false;
    const settling = saver.settle().then(() => (settled = true));
    finish();
    await tick();
    expect(settled).toBe(false);
    finish();
    await settling;
    expect(saver.pending).toBe(0);
  });

  it('saves nothing after a failed save, and reports the failure at the next step', async () => {
    const { saver, saved, fail, finish } = controlledSaver();
    for (const token of ['a', 'b', 'c']) {
      saver.applied(1, undefined);
      saver.start({ _data: token });
    }
    fail(new Error('term changed'));
    await tick();
    finish();
    await expect(saver.settle()).rejects.toThrow('term changed');
    expect(saved.map((s) => s.token)).toEqual(['a', 'b']);
    expect(() => saver.start({ _data: 'd' })).toThrow('term changed');
  });
});
