import { describe, expect, it } from 'vitest';
import { renderVerifyMarkdown, renderVerifyText } from '../../src/report/verify-render.js';
import { verifySummary } from '../../src/commands/verify.js';
import type { VerifyReport } from '../../src/model.js';

const report: VerifyReport = {
  mode: 'hash',
  exact: false,
  collections: [
    { source: 'shop.orders', target: 'shop2.orders', sourceCount: 10, targetCount: 9, method: 'count+dbHash', equal: false, kind: 'collection' },
    { source: 'shop.recent', target: 'shop2.recent', sourceCount: 0, targetCount: 0, method: 'view-definition', equal: true, kind: 'view' },
  ],
  mismatches: [
    { namespace: 'shop.orders', target: 'shop2.orders', kind: 'missing-document', detail: '1 document missing on the destination', ids: ['NumberLong("3")'] },
    { namespace: 'shop.orders', target: 'shop2.orders', kind: 'options', detail: 'option validator differs: source {"a|b":1}, destination (absent)' },
  ],
  notes: ['shop2.orders: index email is still relaxed for the sync'],
};

describe('verification renderers', () => {
  it('text: an approximate banner, one line per collection, mismatches with their _ids, notes', () => {
    expect(renderVerifyText(report)).toEqual([
      'APPROXIMATE: the source is still changing, so differences may be changes not applied yet; the verification at cutover (source writes blocked) is exact.',
      'DIFF  shop.orders → shop2.orders  docs 10/9  count+dbHash',
      'ok    shop.recent → shop2.recent  docs -  view-definition',
      '  missing-document shop.orders → shop2.orders: 1 document missing on the destination',
      '      _id: NumberLong("3")',
      '  options shop.orders → shop2.orders: option validator differs: source {"a|b":1}, destination (absent)',
      'note: shop2.orders: index email is still relaxed for the sync',
    ]);
    expect(renderVerifyText({ ...report, exact: true, mismatches: [], notes: [] })[0]).toMatch(/^DIFF/);
  });

  it('markdown: a warning while approximate, a table, pipes escaped, _ids as code', () => {
    const md = renderVerifyMarkdown(report);
    expect(md.startsWith('> [!WARNING]\n> APPROXIMATE')).toBe(true);
    expect(md).toContain('| ❌ | `shop.orders` | `shop2.orders` | 10/9 | count+dbHash |');
    expect(md).toContain('{"a\\|b":1}');
    expect(md).toContain('- **missing-document** `shop.orders → shop2.orders`: 1 document missing on the destination — `_id`: `NumberLong("3")`');
    const exact = renderVerifyMarkdown({ ...report, exact: true, mismatches: [], notes: undefined });
    expect(exact).not.toContain('WARNING');
    expect(exact).toContain('**No mismatch** (hash mode, exact).');
  });

  it('summary: counts mismatches and collections, and says why results are approximate', () => {
    expect(verifySummary(report, 'the migration is tailing')).toBe(
      'verified 2 collections (hash): 2 mismatches in 1 collection (approximate: the source is still changing — the migration is tailing; the verification at cutover is exact)',
    );
    expect(verifySummary({ ...report, exact: true, mismatches: [] }, '')).toBe('verified 2 collections (hash): equal');
  });
});
