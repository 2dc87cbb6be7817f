import { describe, expect, it } from 'vitest';
import { formatBytes, renderChecksMarkdown, renderChecksText, renderPlanMarkdown, renderPlanText } from '../../src/report/checks-render.js';
import type { CheckResult, Plan } from '../../src/model.js';

const plan: Plan = {
  entries: [
    { source: 'shop.orders', target: 'shop.orders', kind: 'collection', documents: 120000, dataBytes: 52428800, indexes: ['_id_', 'customer_1'], action: 'create' },
    { source: 'shop.big', target: 'shop.big', kind: 'view', documents: 0, dataBytes: 0, indexes: [], action: 'create' },
    { source: 'crm.customers', target: 'crm.clients', kind: 'collection', documents: 10, dataBytes: 2048, indexes: ['_id_'], action: 'conflict' },
  ],
  totals: { collections: 2, views: 1, documents: 120010, dataBytes: 52430848, indexes: 3 },
  estimate: { seconds: 42, method: 'read probe: 1,000 documents (1.0 MB) of shop.orders in 0.10 s' },
  oplogWindowSeconds: 90000,
};

describe('plan and check renderers', () => {
  it('formats sizes for humans', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(52428800)).toBe('50 MiB');
    expect(formatBytes(5 * 1024 ** 4)).toBe('5.0 TiB');
    expect(formatBytes(1000)).toBe('1,000 B');
  });

  it('renders the plan as an aligned table with totals, estimate and oplog window', () => {
    const lines = renderPlanText(plan);
    expect(lines[0]).toMatch(/^SOURCE\s+TARGET\s+KIND\s+DOCUMENTS\s+DATA\s+IDX\s+ACTION$/);
    expect(lines[1]).toMatch(/shop\.orders\s+=\s+collection\s+120,000\s+50 MiB\s+2\s+create/);
    expect(lines[3]).toMatch(/crm\.customers\s+crm\.clients .*CONFLICT/);
    // Every row's DATA column ends at the same place.
    const end = (l: string): number => l.indexOf(l.match(/\d+(\.\d)? (B|KiB|MiB)|DATA|0 B/)![0]) + l.match(/\d+(\.\d)? (B|KiB|MiB)|DATA/)![0].length;
    expect(new Set(lines.slice(0, 4).map(end)).size).toBe(1);
    expect(lines.join('\n')).toMatch(/estimated copy: 42s \(read probe/);
    expect(lines.join('\n')).toMatch(/oplog window: 1d 1h/);
  });

  it('renders the plan for a PR comment: a summary table per database and details per database', () => {
    const md = renderPlanMarkdown(plan);
    expect(md).toMatch(/\| database \| collections \| views \|/);
    expect(md).toMatch(/\| `shop` \| 1 \| 1 \| 120,000 \| 50 MiB \| 2 \| create \|/);
    expect(md.match(/<details>/g)).toHaveLength(2);
    expect(md).toContain('`crm.customers` | `crm.clients`');
    expect(md).toContain('`_id_`, `customer_1`');
  });

  it('renders checks as an aligned table, failures first in markdown, pipes escaped', () => {
    const checks: CheckResult[] = [
      { id: 'source.connection', title: 't', status: 'pass', message: 'connected' },
      { id: 'destination.conflicts', title: 't', status: 'fail', message: 'a | b', remedy: 'drop it' },
    ];
    const text = renderChecksText(checks);
    // Failures first in the terminal too, aligned.
    expect(text[1]).toMatch(/^FAIL {2}destination\.conflicts {2}a \| b$/);
    expect(text[1]!.indexOf('a | b')).toBe(text[3]!.indexOf('connected'));
    expect(text.join('\n')).toMatch(/→ drop it/);
    expect(text.at(-1)).toBe('2 checks: 1 failed, 1 passed');
    const md = renderChecksMarkdown(checks);
    expect(md.indexOf('destination.conflicts')).toBeLessThan(md.indexOf('source.connection'));
    expect(md).toContain('a \\| b');
  });
});
