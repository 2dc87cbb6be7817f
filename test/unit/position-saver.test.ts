import { describe, expect, it } from 'vitest';
import type { Document } from 'mongodb';
import { PositionSaver } from '../../src/engine/position-saver.js';

interface Saved {
  token: string;
  wallTime: number | undefined;
  events: number;
  snapshot: Document;
}

/** A saver whose saves end when the test says. */
function controlledSaver(): { saver: PositionSaver; saved: Saved[]; finish: () => void; fail: (error: Error) => void } {
  const saved: Saved[] = [];
  let end: (() => void) | undefined;
  let reject: ((error: Error) => void) | undefined;
  const saver = new PositionSaver((token, wallTime, events, snapshot) => {
    saved.push({ token: String(token._data), wallTime: wallTime?.getTime(), events, snapshot });
    return new Promise<void>((resolve, rejectSave) => {
      end = resolve;
      reject = rejectSave;
    });
  });
  return { saver, saved, finish: () => end?.(), fail: (error) => reject?.(error) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PositionSaver', () => {
  it('saves a batch that ended during a save as soon as that save ends, with what its batch ended with', async () => {
    const { saver, saved, finish } = controlledSaver();
    saver.applied(10, new Date(1000));
    saver.start({ _data: 'a' }, { lagSeconds: 3 });
    saver.applied(5, new Date(2000));
    saver.start({ _data: 'b' }, { lagSeconds: 2 });
    saver.applied(7, new Date(3000));
    saver.start({ _data: 'c' }, { lagSeconds: 1 });
    expect(saved.map((s) => s.token)).toEqual(['a']);
    finish();
    await tick();
    // Not at the next batch's end: at once, and the newest position only (it covers b).
    expect(saved.map((s) => s.token)).toEqual(['a', 'c']);
    expect(saved[1]).toEqual({ token: 'c', wallTime: 3000, events: 12, snapshot: { lagSeconds: 1 } });
    let settled = false;
    const settling = saver.settle().then(() => (settled = true));
    await tick();
    expect(settled).toBe(false);
    finish();
    await settling;
    expect(saver.pending).toBe(0);
  });

  it('saves nothing after a failed save, and reports the failure at the next step', async () => {
    const { saver, saved, fail } = controlledSaver();
    saver.applied(1, undefined);
    saver.start({ _data: 'a' });
    saver.applied(1, undefined);
    saver.start({ _data: 'b' });
    fail(new Error('term changed'));
    await expect(saver.settle()).rejects.toThrow('term changed');
    expect(saved.map((s) => s.token)).toEqual(['a']);
    expect(() => saver.start({ _data: 'c' })).toThrow('term changed');
  });
});
