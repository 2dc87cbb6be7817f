import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/run-demo.js';
import { renderDemoSummary } from '../../src/demo/summary.js';
import { silentLogger } from '../../src/log.js';
import type { Progress } from '../../src/model.js';
import { sharedClusters } from '../support/clusters.js';

/**
 * The demo in-process at a small scale: its own two replica sets, the seed, the live writer and every command
 * from validate to verify. The figures a newcomer sees must say: committed, equal, no acknowledged write lost.
 */
describe('demo', () => {
  it('walks validate → plan → sync → tail → cutover → verify and loses no acknowledged write', async () => {
    const { mongod, baseDir } = sharedClusters();
    if (!mongod) throw new Error('the demo starts replica sets of its own and needs a mongod binary: run `npm run provision` or set MLM_MONGOD');
    const printed: string[] = [];
    const progress: Progress[] = [];
    const summary = await runDemo(
      { documents: 5000, tailSeconds: 4, opsPerSecond: 60, mongod, baseDir },
      { print: (text) => printed.push(text), progress: (p) => progress.push(p), log: silentLogger, signal: new AbortController().signal },
    );
    const text = printed.join('');
    expect(summary.problems).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.finalPhase).toBe('committed');
    expect(summary.phasesReached).toEqual(['created', 'syncing', 'tailing', 'cutting-over', 'committed']);
    expect(summary.dataset.documents).toBe(5000);
    expect(summary.moved.documentsCopied).toBeGreaterThanOrEqual(5000);
    expect(summary.verification.equal).toBe(true);
    expect(summary.verification.exact).toBe(true);
    expect(summary.verification.collections).toBe(8);
    // The outside view of the lag: the writer's inserts reached the destination during the tail, none timed out.
    expect(summary.lag.observed.samples).toBeGreaterThan(0);
    expect(summary.lag.observed.timedOut).toBe(0);
    expect(summary.downtimeSeconds).not.toBeNull();
    expect(summary.downtimeSeconds!).toBeLessThan(30);
    // The writer ran throughout, its writes were applied live, and the write block stopped it.
    expect(summary.writes.acknowledged).toBeGreaterThan(100);
    expect(summary.moved.changesApplied).toBeGreaterThan(0);
    expect(summary.writes.rejectedByWriteBlock).toBeGreaterThan(0);
    expect(summary.writes.failed).toBe(0);
    expect(summary.writes.check.checked).toBeGreaterThan(50);
    expect(summary.writes.check.lostCount).toBe(0);
    expect(summary.documentsOnDestination).toBe(summary.documentsOnSource);
    expect(summary.steps.map((s) => s.name)).toEqual(['start', 'seed', 'validate', 'plan', 'sync', 'tail', 'cutover', 'verify', 'writes']);
    // Each step's outcome was rendered, with live progress on the way.
    for (const heading of ['== validate', '== plan', '== sync', '== tail', '== cutover', '== verify', 'crm_atlas.contacts', 'analytics.audit_trail']) expect(text).toContain(heading);
    expect(progress.some((p) => p.phase === 'syncing')).toBe(true);
    expect(renderDemoSummary(summary)).toMatch(/succeeded[\s\S]*none lost/);
    // Everything it started is gone.
    expect(readdirSync(baseDir).filter((d) => d.startsWith('mlm-demo-'))).toEqual([]);
    expect(existsSync(baseDir)).toBe(true);
  }, 150_000);
});
