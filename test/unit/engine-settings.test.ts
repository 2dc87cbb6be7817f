import { describe, expect, it } from 'vitest';
import { settingsFromEnvironment, settingsOf } from '../../src/engine/ports.js';
import { cutoverRequestLive, handoffWaitMs } from '../../src/engine/handoff.js';
import type { MigrationDoc } from '../../src/engine/state/types.js';

describe('engine settings come from the edge, never from process.env inside the engine', () => {
  it('reads the lease TTL (at least 1 s, an integer) and the crash point from the environment it is given', () => {
    expect(settingsFromEnvironment({ MLM_LEASE_TTL_MS: '4000', MLM_FAILPOINT: 'tail:batch-applied#2' })).toEqual({ leaseTtlMs: 4000, failpoint: 'tail:batch-applied#2' });
    expect(settingsFromEnvironment({ MLM_LEASE_TTL_MS: '500' })).toEqual({});
    expect(settingsFromEnvironment({ MLM_LEASE_TTL_MS: 'soon' })).toEqual({});
    expect(settingsOf({ log: undefined as never, signal: new AbortController().signal, runner: 'r' }).leaseTtlMs).toBe(30_000);
  });

  it('reads the bound of the tail\'s short commands (at least 1 s), 60 s by default', () => {
    expect(settingsFromEnvironment({ MLM_COMMAND_BOUND_MS: '3000' })).toEqual({ shortCommandBoundMs: 3000 });
    expect(settingsFromEnvironment({ MLM_COMMAND_BOUND_MS: '10' })).toEqual({});
    expect(settingsOf({ log: undefined as never, signal: new AbortController().signal, runner: 'r' }).shortCommandBoundMs).toBe(60_000);
  });

  it('a cutover request goes stale after the handoff wait plus one lease period of that TTL', () => {
    const at = new Date(1_000_000);
    const doc = { cutoverRequest: { by: 'cutover', at } } as MigrationDoc;
    expect(handoffWaitMs(4000)).toBe(60_000);
    expect(handoffWaitMs(40_000)).toBe(80_000);
    expect(cutoverRequestLive(doc, 4000, at.getTime() + 63_999)).toBe(true);
    expect(cutoverRequestLive(doc, 4000, at.getTime() + 64_000)).toBe(false);
    expect(cutoverRequestLive(doc, 40_000, at.getTime() + 119_999)).toBe(true);
  });
});
