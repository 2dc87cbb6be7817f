import { formatCount, plural } from '../format.js';
import type { VerifyMismatch, VerifyReport } from '../model.js';

/**
 * Renderers of a verification (text and markdown). Pure. The outcome-level renderers call these.
 */

const APPROXIMATE =
  'APPROXIMATE: the source is still changing, so differences may be changes not applied yet; the verification at cutover (source writes blocked) is exact.';

function where(m: VerifyMismatch): string {
  return m.target ? `${m.namespace} → ${m.target}` : m.namespace;
}

function counts(c: VerifyReport['collections'][number]): string {
  return c.kind === 'view' ? '-' : `${formatCount(c.sourceCount)}/${formatCount(c.targetCount)}`;
}

export function renderVerifyText(report: VerifyReport): string[] {
  const lines: string[] = [];
  if (!report.exact) lines.push(APPROXIMATE);
  for (const c of report.collections) {
    const name = c.source === c.target ? c.source : `${c.source} → ${c.target}`;
    lines.push(`${c.equal ? 'ok  ' : 'DIFF'}  ${name}  docs ${counts(c)}  ${c.method}`);
  }
  for (const m of report.mismatches) {
    lines.push(`  ${m.kind} ${where(m)}: ${m.detail}`);
    if (m.ids?.length) lines.push(`      _id: ${m.ids.join(', ')}`);
  }
  for (const note of report.notes ?? []) lines.push(`note: ${note}`);
  return lines;
}

/** Markdown cells must not break the table: pipes escaped, newlines flattened. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Inline code that survives backticks inside the value. */
function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

export function renderVerifyMarkdown(report: VerifyReport): string {
  const parts: string[] = [];
  if (!report.exact) parts.push(`> [!WARNING]\n> ${APPROXIMATE}`);
  const rows = report.collections.map((c) => {
    const target = c.source === c.target ? '' : c.target;
    // In a table a `|` ends the cell even inside backticks: escaped, GitHub shows it as a plain pipe.
    return `| ${c.equal ? '✅' : '❌'} | ${cell(code(c.source))} | ${target ? cell(code(target)) : ''} | ${counts(c)} | ${cell(c.method)} |`;
  });
  parts.push(['| | source | destination | documents (source/destination) | compared |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'));
  if (report.mismatches.length) {
    const items = report.mismatches.map((m) => {
      const ids = m.ids?.length ? ` — \`_id\`: ${m.ids.map(code).join(', ')}` : '';
      return `- **${m.kind}** ${code(where(m))}: ${cell(m.detail)}${ids}`;
    });
    parts.push([`**${plural(report.mismatches.length, 'mismatch', 'mismatches')}**`, '', ...items].join('\n'));
  } else {
    parts.push(`**No mismatch** (${report.mode} mode${report.exact ? ', exact' : ''}).`);
  }
  if (report.notes?.length) parts.push(report.notes.map((n) => `- note: ${cell(n)}`).join('\n'));
  return parts.join('\n\n');
}
