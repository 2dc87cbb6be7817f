import { describe, expect, it } from 'vitest';
import { MAX_CHART_POINTS, renderLagChart } from '../../src/report/chart.js';
import { renderProgressBlock, renderProgressLine } from '../../src/report/text.js';
import { hugeOutcome, tailingProgress } from './report-fixtures.js';

describe('renderLagChart', () => {
  it('draws a mermaid xychart with the threshold', () => {
    expect(renderLagChart(tailingProgress().lagHistory.slice(0, 4), { thresholdSeconds: 5 })).toMatchInlineSnapshot(`
      "\`\`\`mermaid
      xychart-beta
          title "Replication lag (seconds) and the cutover threshold (5 s)"
          x-axis "time (UTC)" ["08:00", "08:10", "08:20", "08:30"]
          y-axis "lag (s)" 0 --> 50
          line [40, 22, 9.5, 4]
          line [5, 5, 5, 5]
      \`\`\`
      Lag per sample, 08:00 to 08:30 UTC; the flat line is the cutover threshold (cutover.maxLagSeconds: 5 s)."
    `);
  });

  it('buckets long histories and keeps the worst lag of each bucket', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => ({ at: new Date(Date.UTC(2026, 10, 1) + i * 120_000).toISOString(), lagSeconds: i === 500 ? 900 : 1 }));
    const chart = renderLagChart(samples) ?? '';
    const values = /line \[([^\]]*)\]/.exec(chart)?.[1]?.split(', ') ?? [];
    expect(values.length).toBeLessThanOrEqual(MAX_CHART_POINTS);
    expect(values).toContain('900');
    expect(chart).toContain('"11-01 ');
  });

  it('labels with seconds when minutes would repeat', () => {
    const samples = [0, 5, 10].map((s) => ({ at: new Date(Date.UTC(2026, 10, 24, 20, 11, s)).toISOString(), lagSeconds: 0 }));
    expect(renderLagChart(samples)).toContain('x-axis "time (UTC)" ["20:11:00", "20:11:05", "20:11:10"]');
  });

  it('draws nothing with fewer than two samples', () => {
    expect(renderLagChart([])).toBeUndefined();
    expect(renderLagChart([{ at: '2026-11-24T00:00:00Z', lagSeconds: 1 }])).toBeUndefined();
  });
});

describe('terminal progress', () => {
  it('one line with totals, lag and readiness', () => {
    expect(renderProgressLine(tailingProgress())).toMatchInlineSnapshot(`"tailing [####################] 100% 1,380,003/1,380,003 docs 2.3 GiB/2.3 GiB 4/4 colls lag 1.4s applied 48,211 READY"`);
  });

  it('a block with one bar per collection, in-flight first, within the terminal width', () => {
    const p = hugeOutcome().progress!;
    const lines = renderProgressBlock({ ...p, collections: p.collections.slice(0, 30) }, { columns: 90, maxCollections: 5 });
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(90);
    expect(lines[1]).toMatch(/^ {2}db\d+\.collection_with_a_long_name_\d+ +\[#*\.*\] +\d+%/);
    expect(lines[6]).toBe('  … 25 more collections (20 done)');
  });
});
