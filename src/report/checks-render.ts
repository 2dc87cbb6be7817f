import type { CheckResult, Plan } from './model.js';

/**
 * Renderers for validation results and the plan (text and markdown). Pure. The outcome-level renderers
 * (text.ts, markdown.ts) call these.
 */
const MARK: Record<CheckResult['status'], string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function renderChecksText(checks: CheckResult[]): string[] {
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${MARK[check.status]}  ${check.id.padEnd(28)} ${check.message}`);
    if (check.remedy && check.status !== 'pass') lines.push(`      ${' '.repeat(28)} → ${check.remedy}`);
  }
  return lines;
}

export function renderPlanText(plan: Plan): string[] {
  return plan.entries.map((e) => `${e.source} → ${e.target}: ${e.documents} documents, ${e.dataBytes} bytes, ${e.indexes.length} indexes (${e.action})`);
}

export function renderChecksMarkdown(checks: CheckResult[]): string {
  const icon = { pass: '✅', warn: '⚠️', fail: '❌' } as const;
  return ['| | check | result | remedy |', '| --- | --- | --- | --- |', ...checks.map((c) => `| ${icon[c.status]} | \`${c.id}\` | ${c.message} | ${c.remedy ?? ''} |`)].join('\n');
}

export function renderPlanMarkdown(plan: Plan): string {
  return ['| source | target | documents | bytes | indexes | action |', '| --- | --- | --- | --- | --- | --- |', ...plan.entries.map((e) => `| ${e.source} | ${e.target} | ${e.documents} | ${e.dataBytes} | ${e.indexes.length} | ${e.action} |`)].join('\n');
}
