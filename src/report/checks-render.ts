import { formatBytes, formatCount, formatDuration, plural } from '../format.js';
import { plain, type Colors } from './colors.js';
import type { CheckResult, Plan, PlanEntry } from '../model.js';

// Kept for callers that imported them from here; src/format.ts is their one definition.
export { formatBytes, formatCount };

/** A duration that may be unknown. */
const formatDurationSeconds = (seconds: number | null): string => formatDuration(seconds, 'unknown');

/**
 * Renderers for validation results and the plan (text and markdown). Pure. The outcome-level renderers
 * (text.ts, markdown.ts) call these.
 */

const MARK: Record<CheckResult['status'], string> = { pass: 'ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };
const ICON: Record<CheckResult['status'], string> = { pass: '✅', warn: '⚠️', fail: '❌', skip: '⏭️' };
/** Report order: what needs action first. */
const ORDER: Record<CheckResult['status'], number> = { fail: 0, warn: 1, pass: 2, skip: 3 };

function paint(status: CheckResult['status'], text: string, c: Colors): string {
  if (status === 'pass') return c.green(text);
  if (status === 'warn') return c.yellow(text);
  if (status === 'fail') return c.bold(c.red(text));
  return c.dim(text);
}

/** Checks in report order, stable within a status (the registry's order: connection first, data last). */
export function sortChecks(checks: CheckResult[]): CheckResult[] {
  return [...checks].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
}

/** "22 checks: 1 failed, 2 warnings, 3 passed, 16 skipped" (zero counts left out, except passed). */
export function checksHeadline(checks: CheckResult[]): string {
  const n = (s: CheckResult['status']): number => checks.filter((c) => c.status === s).length;
  const parts = [n('fail') ? `${formatCount(n('fail'))} failed` : '', n('warn') ? plural(n('warn'), 'warning') : '', `${formatCount(n('pass'))} passed`, n('skip') ? `${formatCount(n('skip'))} skipped` : ''];
  return `${plural(checks.length, 'check')}: ${parts.filter(Boolean).join(', ')}`;
}

/**
 * Skipped checks share one reason (an unreachable side): one line names them instead of a row each, so the
 * failures that explain them stay on screen.
 */
export function skippedLine(checks: CheckResult[]): string | undefined {
  const skipped = checks.filter((c) => c.status === 'skip');
  if (!skipped.length) return undefined;
  // The registry's reason names the unreachable sides ("not run: the source is not reachable"): merge them.
  const sides = [...new Set(skipped.flatMap((c) => [...c.message.matchAll(/\b(source|destination)\b/g)].map((m) => m[1]!)))];
  const why = sides.length ? `the ${sides.join(' and ')} ${sides.length > 1 ? 'are' : 'is'} not reachable` : 'what they need is not available';
  return `${plural(skipped.length, 'check')} not run: ${why} (${skipped.map((c) => c.id).join(', ')})`;
}

/** Word-wraps text to a width (continuation lines are indented by the caller). */
function wrap(text: string, width: number): string[] {
  if (width < 20 || text.length <= width) return [text];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export interface ChecksTextOptions {
  width?: number;
  colors?: Colors;
}

/**
 * An aligned table, failures first: status, check id, message (wrapped), then the remedy under it. Skipped
 * checks are summarised in one line at the end.
 */
export function renderChecksText(checks: CheckResult[], options: ChecksTextOptions = {}): string[] {
  const width = options.width ?? 120;
  const c = options.colors ?? plain;
  const shown = sortChecks(checks).filter((check) => check.status !== 'skip');
  const idWidth = Math.max(5, ...shown.map((check) => check.id.length));
  const markWidth = 4;
  const indent = ' '.repeat(markWidth + 2 + idWidth + 2);
  const textWidth = Math.max(40, width - indent.length);
  const lines: string[] = [c.bold(`${'STAT'.padEnd(markWidth)}  ${'CHECK'.padEnd(idWidth)}  RESULT`)];
  for (const check of shown) {
    const [first = '', ...rest] = wrap(check.message, textWidth);
    lines.push(`${paint(check.status, MARK[check.status].padEnd(markWidth), c)}  ${check.id.padEnd(idWidth)}  ${first}`);
    for (const more of rest) lines.push(`${indent}${more}`);
    if (check.remedy && check.status !== 'pass') {
      const [r0 = '', ...rr] = wrap(check.remedy, textWidth - 2);
      lines.push(`${indent}→ ${r0}`);
      for (const more of rr) lines.push(`${indent}  ${more}`);
    }
  }
  const skipped = skippedLine(checks);
  if (skipped) {
    const [s0 = '', ...sr] = wrap(skipped, width - markWidth - 2);
    lines.push(`${paint('skip', MARK.skip.padEnd(markWidth), c)}  ${s0}`, ...sr.map((more) => `${' '.repeat(markWidth + 2)}${more}`));
  }
  lines.push(checksHeadline(checks));
  return lines;
}

/** Escapes text for a markdown table cell (a `|` would end the cell, even inside backticks). */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/</g, '&lt;');
}

export function renderChecksMarkdown(checks: CheckResult[]): string {
  const shown = sortChecks(checks).filter((check) => check.status !== 'skip');
  const skipped = skippedLine(checks);
  return [
    `**${checksHeadline(checks)}**`,
    '',
    '| | check | result | remedy |',
    '| --- | --- | --- | --- |',
    ...shown.map((check) => `| ${ICON[check.status]} | \`${cell(check.id)}\` | ${cell(check.message)} | ${check.status === 'pass' ? '' : cell(check.remedy ?? '')} |`),
    ...(skipped ? ['', `${ICON.skip} ${cell(skipped)}`] : []),
  ].join('\n');
}

const ACTION_TEXT: Record<PlanEntry['action'], string> = { create: 'create', 'drop-and-recreate': 'drop and recreate', conflict: 'CONFLICT', skip: 'skip (unsupported)' };

function planHeadline(plan: Plan): string {
  const t = plan.totals;
  return `${plural(t.collections, 'collection')} and ${plural(t.views, 'view')}, ${plural(t.documents, 'document')}, ${formatBytes(t.dataBytes)}, ${plural(t.indexes, 'index', 'indexes')}`;
}

function planFooter(plan: Plan): string[] {
  return [
    `estimated copy: ${formatDurationSeconds(plan.estimate.seconds)} (${plan.estimate.method})`,
    `source oplog window: ${formatDurationSeconds(plan.oplogWindowSeconds)}`,
  ];
}

export function renderPlanText(plan: Plan): string[] {
  const rows = plan.entries.map((e) => [
    e.source,
    e.target === e.source ? '=' : e.target,
    e.kind,
    formatCount(e.documents),
    formatBytes(e.dataBytes),
    String(e.indexes.length),
    ACTION_TEXT[e.action],
  ]);
  const header = ['SOURCE', 'TARGET', 'KIND', 'DOCUMENTS', 'DATA', 'IDX', 'ACTION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([3, 4, 5]);
  const line = (r: string[]): string => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (plan.entries.length === 0) out.push('(no namespace selected)');
  out.push(`total: ${planHeadline(plan)}`, ...planFooter(plan));
  return out;
}

export function renderPlanMarkdown(plan: Plan): string {
  const byDb = new Map<string, PlanEntry[]>();
  for (const e of plan.entries) {
    const db = e.source.slice(0, e.source.indexOf('.'));
    byDb.set(db, [...(byDb.get(db) ?? []), e]);
  }
  const out = [
    `**${planHeadline(plan)}** · estimated copy ${formatDurationSeconds(plan.estimate.seconds)} · oplog window ${formatDurationSeconds(plan.oplogWindowSeconds)}`,
    '',
    '| database | collections | views | documents | data | indexes | actions |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [db, entries] of byDb) {
    const colls = entries.filter((e) => e.kind !== 'view');
    const actions = [...new Set(entries.map((e) => ACTION_TEXT[e.action]))].join(', ');
    out.push(
      `| \`${cell(db)}\` | ${colls.length} | ${entries.length - colls.length} | ${formatCount(colls.reduce((s, e) => s + e.documents, 0))} | ${formatBytes(colls.reduce((s, e) => s + e.dataBytes, 0))} | ${colls.reduce((s, e) => s + e.indexes.length, 0)} | ${actions} |`,
    );
  }
  out.push('', `_Estimate: ${cell(plan.estimate.method)}_`);
  for (const [db, entries] of byDb) {
    out.push(
      '',
      `<details><summary><code>${cell(db)}</code>: ${plural(entries.length, 'namespace')}</summary>`,
      '',
      '| source | target | kind | documents | data | indexes | action |',
      '| --- | --- | --- | ---: | ---: | --- | --- |',
      ...entries.map((e) => `| \`${cell(e.source)}\` | \`${cell(e.target)}\` | ${e.kind} | ${formatCount(e.documents)} | ${formatBytes(e.dataBytes)} | ${e.indexes.length}${e.indexes.length ? `: ${e.indexes.map((i) => `\`${cell(i)}\``).join(', ')}` : ''} | ${ACTION_TEXT[e.action]} |`),
      '',
      '</details>',
    );
  }
  return out.join('\n');
}
