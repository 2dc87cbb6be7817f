import type { CheckResult, Plan, PlanEntry } from './model.js';

/**
 * Renderers for validation results and the plan (text and markdown). Pure. The outcome-level renderers
 * (text.ts, markdown.ts) call these.
 */

const MARK: Record<CheckResult['status'], string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' };
const ICON: Record<CheckResult['status'], string> = { pass: '✅', warn: '⚠️', fail: '❌' };

/** 1536 → "1.5 KB". Binary units, as MongoDB reports sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDurationSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return 'unknown';
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 3 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
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

/** An aligned table: status, check id, message (wrapped), then the remedy under it. */
export function renderChecksText(checks: CheckResult[], width = 120): string[] {
  const idWidth = Math.max(5, ...checks.map((c) => c.id.length));
  const indent = ' '.repeat(4 + 2 + idWidth + 2);
  const textWidth = Math.max(40, width - indent.length);
  const lines: string[] = [`${'STAT'}  ${'CHECK'.padEnd(idWidth)}  RESULT`];
  for (const check of checks) {
    const [first = '', ...rest] = wrap(check.message, textWidth);
    lines.push(`${MARK[check.status]}  ${check.id.padEnd(idWidth)}  ${first}`);
    for (const more of rest) lines.push(`${indent}${more}`);
    if (check.remedy && check.status !== 'pass') {
      const [r0 = '', ...rr] = wrap(check.remedy, textWidth - 2);
      lines.push(`${indent}→ ${r0}`);
      for (const more of rr) lines.push(`${indent}  ${more}`);
    }
  }
  const count = (s: CheckResult['status']): number => checks.filter((c) => c.status === s).length;
  lines.push(`${checks.length} checks: ${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed`);
  return lines;
}

/** Escapes text for a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/</g, '&lt;');
}

export function renderChecksMarkdown(checks: CheckResult[]): string {
  const order = { fail: 0, warn: 1, pass: 2 } as const;
  const sorted = [...checks].sort((a, b) => order[a.status] - order[b.status]);
  const count = (s: CheckResult['status']): number => checks.filter((c) => c.status === s).length;
  return [
    `**${count('fail')} failed, ${count('warn')} warnings, ${count('pass')} passed**`,
    '',
    '| | check | result | remedy |',
    '| --- | --- | --- | --- |',
    ...sorted.map((c) => `| ${ICON[c.status]} | \`${c.id}\` | ${cell(c.message)} | ${c.status === 'pass' ? '' : cell(c.remedy ?? '')} |`),
  ].join('\n');
}

const ACTION_TEXT: Record<PlanEntry['action'], string> = { create: 'create', 'drop-and-recreate': 'drop and recreate', conflict: 'CONFLICT', skip: 'skip (unsupported)' };

function planHeadline(plan: Plan): string {
  const t = plan.totals;
  return `${plural(t.collections, 'collection')} and ${plural(t.views, 'view')}, ${formatCount(t.documents)} documents, ${formatBytes(t.dataBytes)}, ${formatCount(t.indexes)} indexes`;
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
      `<details><summary><code>${cell(db)}</code>: ${entries.length} namespace${entries.length === 1 ? '' : 's'}</summary>`,
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

function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}
