import { describe, expect, it } from 'vitest';
import { COMMENT_MAX_CHARS, SUMMARY_MAX_BYTES, commentMarker, nextAction, renderMarkdown, type MarkdownContext } from '../../src/report/markdown.js';
import { hugeOutcome, tailOutcome, tailingProgress, validateOutcome } from './report-fixtures.js';

const ctx: MarkdownContext = {
  target: 'comment',
  migration: 'orders-to-atlas',
  next: { configPath: 'migrations/orders/migration.yaml', runWorkflow: 'migration-run.yml', cutoverWorkflow: 'migration-cutover.yml' },
  runUrl: 'https://github.com/acme/shop/actions/runs/1007/attempts/2',
  maxLagSeconds: 5,
};

describe('renderMarkdown', () => {
  it('the comment of a tail slice ready for cutover', async () => {
    await expect(renderMarkdown(tailOutcome(), ctx)).toMatchFileSnapshot('__snapshots__/comment-tail-ready.md');
  });

  it('the comment of a failed validation', async () => {
    await expect(renderMarkdown(validateOutcome(), ctx)).toMatchFileSnapshot('__snapshots__/comment-validate-failed.md');
  });

  it('the job summary of a sync slice that needs another slice', async () => {
    const p = tailingProgress();
    const syncing = { ...p, phase: 'syncing' as const, step: 'copy', readyForCutover: false, lagSeconds: null, etaSeconds: 5400, lagHistory: [], collections: p.collections.map((c, i) => (i === 0 ? { ...c, documentsCopied: 400_000, bytesCopied: 768_000_000, done: false } : c)) };
    syncing.totals = { ...syncing.totals, documentsCopied: 530_003, bytesCopied: 876_000_300 };
    const outcome = { command: 'sync', exitCode: 0 as const, summary: 'sync slice of "orders-to-atlas" saved its position after 5h30m', progress: syncing, continue: true };
    await expect(renderMarkdown(outcome, { ...ctx, target: 'summary', updatedAt: '2026-11-24T14:42:00.000Z' })).toMatchFileSnapshot('__snapshots__/summary-sync-continues.md');
  });

  it('the job summary has no marker; the comment opens with it', () => {
    expect(renderMarkdown(tailOutcome(), ctx).startsWith(`${commentMarker('orders-to-atlas')}\n`)).toBe(true);
    expect(renderMarkdown(tailOutcome(), { ...ctx, target: 'summary' })).not.toContain('<!--');
  });

  it('escapes table cells built from database names', () => {
    const text = renderMarkdown(tailOutcome(), ctx);
    expect(text).toContain('shop.odd\\|name');
    expect(text).not.toMatch(/\| shop\.odd\|name \|/);
  });

  // 30,000 collections rendered at every level of detail: about 4 s of CPU on a quiet two-core machine, so the
  // default 5 s failed whenever other work shared the cores; the limit is about the load, not a speed target.
  it('stays under GitHub’s limits with a huge outcome, trimming detail first and keeping what matters', { timeout: 30_000 }, () => {
    const outcome = hugeOutcome();
    const comment = renderMarkdown(outcome, ctx);
    expect(comment.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(comment.startsWith(commentMarker('orders-to-atlas'))).toBe(true);
    for (const kept of ['| phase |', '| copied |', '| lag |', '| ready for cutover |', '**Next:**', '**Checks:**', '**Plan:**', '**Verification**', 'xychart-beta']) expect(comment).toContain(kept);
    // The conflicting namespace, last in the plan, is what a reviewer must see: it survives the cut.
    expect(comment).toContain('collection_with_a_long_name_29999');

    const summary = renderMarkdown(outcome, { ...ctx, target: 'summary' });
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    // The summary has room for more detail than the comment.
    expect(summary.length).toBeGreaterThan(comment.length * 5);
    expect(summary).toContain('<summary>Collections:');
  });

  it('cuts even a pathological summary line, keeping the marker', () => {
    const text = renderMarkdown({ command: 'status', exitCode: 1, summary: '€'.repeat(2_000_000) }, { ...ctx, budget: 10_000 });
    expect(text.length).toBeLessThanOrEqual(10_000);
    expect(text.startsWith(commentMarker('orders-to-atlas'))).toBe(true);
    const summary = renderMarkdown({ command: 'status', exitCode: 1, summary: '€'.repeat(2_000_000) }, { ...ctx, target: 'summary' });
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
  });
});

describe('nextAction', () => {
  const base = tailOutcome();
  it('names the workflow and its inputs for each situation', () => {
    expect(nextAction(base, ctx)).toContain('run the workflow `migration-cutover.yml` with `migration: migrations/orders/migration.yaml`');
    expect(nextAction(base, ctx)).toContain('`confirm: orders-to-atlas`');
    expect(nextAction({ ...base, continue: true, progress: { ...base.progress!, readyForCutover: false } }, ctx)).toContain('dispatches the next `tail` slice itself');
    expect(nextAction({ command: 'validate', exitCode: 0, summary: 'ok' }, ctx)).toContain('gh workflow run migration-run.yml -f migration=migrations/orders/migration.yaml -f command=sync');
    expect(nextAction({ command: 'validate', exitCode: 2, summary: 'bad' }, ctx)).toContain('fix the configuration');
    expect(nextAction({ ...base, progress: { ...base.progress!, phase: 'committed' } }, ctx)).toContain('committed');
    expect(nextAction(base, { migration: 'orders-to-atlas' })).toBe('ready for cutover: run `mongo-live-migrate cutover --config <file> --confirm orders-to-atlas`. Tail slices keep running until the cutover takes over.');
    // Ready and still tailing (continue): the cutover is what to do, with every input the workflow requires.
    expect(nextAction({ ...base, continue: true }, ctx)).toContain('gh workflow run migration-cutover.yml -f migration=migrations/orders/migration.yaml -f confirm=orders-to-atlas');
    expect(nextAction({ ...base, continue: false }, ctx)).toContain('the cutover has taken over');
    expect(nextAction({ ...base, running: true, progress: { ...base.progress!, readyForCutover: false } }, ctx)).toContain('while this step runs');
    const resync = { ...base, exitCode: 1 as const, summary: 'lost its position; re-sync', progress: { ...base.progress!, phase: 'failed' as const, readyForCutover: false } };
    expect(nextAction(resync, ctx)).toContain('gh workflow run migration-abort.yml -f migration=migrations/orders/migration.yaml -f confirm=orders-to-atlas -f drop-destination=true');
    const failedCutover = { ...base, command: 'cutover', exitCode: 1 as const, progress: { ...base.progress!, phase: 'cutting-over' as const, readyForCutover: false } };
    expect(nextAction(failedCutover, ctx)).toContain('gh workflow run migration-cutover.yml -f migration=migrations/orders/migration.yaml -f confirm=orders-to-atlas');
    expect(nextAction(failedCutover, ctx)).toContain('gh workflow run migration-abort.yml -f migration=migrations/orders/migration.yaml -f confirm=orders-to-atlas`');
  });
});
