import { renderLagChart } from './chart.js';
import { verificationRows } from './verification-render.js';
import { checksHeadline, renderChecksMarkdown, renderPlanMarkdown } from './checks-render.js';
import { renderVerifyMarkdown } from './verify-render.js';
import type { CheckResult, CommandOutcome, Plan, Progress, VerifyReport } from '../model.js';
import { formatBytes, formatCount, formatDuration as formatSeconds, percent, plural } from '../format.js';
import { nextAction, type NextActionContext } from './next-action.js';
import { isBeforeCutover } from './text.js';

export { nextAction, type NextActionContext };

/**
 * The sticky PR comment and the job summary, rendered from one CommandOutcome. Pure: no GitHub, no I/O.
 *
 * Both are size-budgeted: GitHub rejects a comment over 65,536 characters and a step summary over 1 MiB. The
 * document is built from sections; while it is too big, sections are degraded one level at a time (a shorter
 * table, then a one-line note), in rounds, detail first: per-collection rows, history, the plan,
 * verification, checks, warnings, the chart. The status table, the next action and the marker are never dropped.
 */

/** GitHub's limit for an issue comment body, in characters. */
export const COMMENT_MAX_CHARS = 65_536;
/** GitHub's limit for one step's summary, in bytes. */
export const SUMMARY_MAX_BYTES = 1024 * 1024;

export interface MarkdownContext {
  target: 'comment' | 'summary';
  /** The migration's name; when the configuration could not be read, a label for it (its file). */
  migration: string;
  /** How the next step is started; without it, the CLI command is shown. */
  next?: NextActionContext;
  /** Link to the workflow run that wrote this. */
  runUrl?: string;
  /** ISO time shown as "updated at"; omitted when absent (keeps snapshots stable). */
  updatedAt?: string;
  /** The cutover lag threshold, drawn on the chart. */
  maxLagSeconds?: number;
  /** Overrides the budget (tests); defaults to GitHub's limits minus a margin. */
  budget?: number;
}

/** The hidden marker that identifies the one comment of a migration. Names are [a-z0-9-], so it is safe HTML. */
export function commentMarker(migration: string): string {
  return `<!-- mongo-live-migrate:comment migration=${migration.replace(/[^a-zA-Z0-9._/-]/g, '_')} -->`;
}

/** Size of a text as the target's limit counts it. */
export function measure(text: string, target: MarkdownContext['target']): number {
  return target === 'comment' ? text.length : Buffer.byteLength(text, 'utf8');
}

/** The default budget: the limit with a margin for whatever GitHub counts differently. */
export function defaultBudget(target: MarkdownContext['target']): number {
  return target === 'comment' ? COMMENT_MAX_CHARS - 536 : SUMMARY_MAX_BYTES - 48_576;
}

/** A section of the document with its renderings from the most to the least detailed (last: often ''). */
interface Section {
  name: string;
  levels: string[];
}

/** Order in which sections lose detail when the document is too big: the first tier in rounds, then the next. */
const DEGRADE_TIERS = [['collections', 'history', 'plan', 'verification', 'checks', 'warnings'], ['chart', 'summary']];

export function renderMarkdown(outcome: CommandOutcome, ctx: MarkdownContext): string {
  const budget = ctx.budget ?? defaultBudget(ctx.target);
  const sections = buildSections(outcome, ctx);
  const level = new Map(sections.map((s) => [s.name, 0]));
  const assemble = (): string =>
    sections
      .map((s) => s.levels[level.get(s.name) ?? 0] ?? '')
      .filter((text) => text !== '')
      .join('\n\n') + '\n';
  let text = assemble();
  // Rounds: each takes every section one level down, detail first, and stops as soon as the text fits, so a
  // big plan does not cost the per-collection table more than one level before the plan itself shrinks.
  // The chart and the summary line are small and worth most: they go only when the detail is all gone.
  for (const tier of DEGRADE_TIERS) {
    let shrunk = true;
    while (measure(text, ctx.target) > budget && shrunk) {
      shrunk = false;
      for (const name of tier) {
        const section = sections.find((s) => s.name === name);
        const current = level.get(name) ?? 0;
        if (!section || current >= section.levels.length - 1) continue;
        level.set(name, current + 1);
        shrunk = true;
        text = assemble();
        if (measure(text, ctx.target) <= budget) break;
      }
    }
  }
  // Only pathological input (a summary line of megabytes) gets here: cut, keeping the marker at the top.
  if (measure(text, ctx.target) > budget) text = cut(text, budget, ctx.target);
  return text;
}

function buildSections(outcome: CommandOutcome, ctx: MarkdownContext): Section[] {
  const p = outcome.progress;
  const sections: Section[] = [];
  const fixed = (name: string, text: string): void => void sections.push({ name, levels: [text] });
  if (ctx.target === 'comment') fixed('marker', commentMarker(ctx.migration));
  fixed('title', `### ${titleIcon(outcome)} Migration \`${cell(ctx.migration)}\` · \`${outcome.command}\``);
  const summaryText = [outcome.summary, p?.error ? `**Error:** ${p.error}` : ''].filter(Boolean).join('\n\n');
  sections.push({ name: 'summary', levels: [summaryText, clip(summaryText, 2000)] });
  if (p) fixed('status', statusTable(p, outcome));
  fixed('next', `**Next:** ${nextAction(outcome, ctx)}`);
  if (outcome.checks?.length) sections.push(checksSection(outcome.checks));
  if (outcome.plan) sections.push(planSection(outcome.plan));
  if (outcome.verification) sections.push(verificationSection(outcome.verification));
  if (p?.warnings.length) sections.push(warningsSection(p.warnings));
  if (p) {
    const chart = renderLagChart(p.lagHistory, { thresholdSeconds: ctx.maxLagSeconds });
    if (chart) sections.push({ name: 'chart', levels: [details('Replication lag', chart, true), ''] });
    if (p.collections.length) sections.push(collectionsSection(p));
    if (p.history.length) sections.push(historySection(p));
  }
  const footer = [ctx.runUrl ? `[workflow run](${ctx.runUrl})` : '', ctx.updatedAt ? `updated ${ctx.updatedAt}` : ''].filter(Boolean).join(' · ');
  if (footer) fixed('footer', `<sub>${footer}</sub>`);
  return sections;
}

function titleIcon(outcome: CommandOutcome): string {
  if (outcome.exitCode !== 0) return '❌';
  if (outcome.running) return '⏳';
  if (outcome.progress?.phase === 'committed') return '🎉';
  if (outcome.progress?.readyForCutover) return '🟢';
  return outcome.checks?.some((c) => c.status === 'warn') ? '⚠️' : '✅';
}

function statusTable(p: Progress, outcome: CommandOutcome): string {
  const t = p.totals;
  const rows: [string, string][] = [
    ['phase', `\`${p.phase}${p.step ? ` / ${p.step}` : ''}\` since ${p.phaseSince}`],
    ['copied', `${formatCount(t.documentsCopied)} / ${formatCount(t.documentsTotal)} documents (${percent(t.documentsCopied, t.documentsTotal)}%), ${formatBytes(t.bytesCopied)} / ${formatBytes(t.bytesTotal)}`],
    ['lag', p.lagSeconds === null ? '–' : formatSeconds(p.lagSeconds)],
  ];
  // Meaningless once the cutover has started (or the migration ended): not shown then.
  if (isBeforeCutover(p.phase)) rows.push(['ready for cutover', p.readyForCutover ? '**yes**' : 'no'], ...verificationRows(p.verification));
  if (p.etaSeconds !== null && p.phase === 'syncing') rows.push(['copy ETA', formatSeconds(p.etaSeconds)]);
  if (p.oplogHeadroomSeconds !== null) rows.push(['oplog headroom', formatSeconds(p.oplogHeadroomSeconds)]);
  if (p.eventsApplied) rows.push(['changes applied', formatCount(p.eventsApplied)]);
  if (p.sourceWriteBlocked) rows.push(['source writes', '**blocked** by this migration']);
  if (p.downtimeSeconds !== undefined) rows.push(['write downtime', formatSeconds(p.downtimeSeconds)]);
  if (outcome.continue !== undefined) rows.push(['another slice needed', outcome.continue ? 'yes' : 'no']);
  return ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function checksSection(checks: CheckResult[]): Section {
  const failing = checks.filter((c) => c.status === 'fail' || c.status === 'warn');
  const head = `**Checks:** ${checksHeadline(checks)}`;
  const problems = failing.length ? `${head} (failures and warnings below)\n\n${renderChecksMarkdown(failing.slice(0, 50).map(clipCheck))}${failing.length > 50 ? `\n\n… and ${formatCount(failing.length - 50)} more` : ''}` : head;
  return {
    name: 'checks',
    // renderChecksMarkdown states its own counts: the head line is only for the cut-down levels.
    levels: [renderChecksMarkdown(checks.map(clipCheck)), problems, head],
  };
}

function planSection(plan: Plan): Section {
  const t = plan.totals;
  const estimate = plan.estimate.seconds === null ? 'unknown' : `${formatSeconds(plan.estimate.seconds)} (${plan.estimate.method})`;
  const oplog = plan.oplogWindowSeconds === null ? '' : `, source oplog window ${formatSeconds(plan.oplogWindowSeconds)}`;
  const head = `**Plan:** ${plural(t.collections, 'collection')}, ${plural(t.views, 'view')}, ${plural(t.documents, 'document')}, ${formatBytes(t.dataBytes)}, ${plural(t.indexes, 'index', 'indexes')}; estimated copy ${estimate}${oplog}`;
  const conflicts = plan.entries.filter((e) => e.action === 'conflict');
  const table = (limit: number): string => {
    // Conflicts first: they are what a reviewer must see when the table is cut.
    const entries = [...conflicts, ...plan.entries.filter((e) => e.action !== 'conflict')].slice(0, limit).map((e) => ({ ...e, source: cell(e.source), target: cell(e.target) }));
    const more = plan.entries.length - entries.length;
    return details(`Plan: ${plural(plan.entries.length, 'namespace')}`, `${renderPlanMarkdown({ ...plan, entries })}${more > 0 ? `\n\n… and ${formatCount(more)} more` : ''}`, conflicts.length > 0);
  };
  const last = conflicts.length ? `${head}\n\n${table(Math.min(conflicts.length, 10))}` : head;
  return { name: 'plan', levels: [`${head}\n\n${table(Infinity)}`, `${head}\n\n${table(100)}`, `${head}\n\n${table(10)}`, last] };
}

function verificationSection(v: VerifyReport): Section {
  const equal = v.collections.filter((c) => c.equal).length;
  const head = `**Verification** (${v.mode}${v.exact ? '' : ', approximate while changes flow'}): ${formatCount(equal)} / ${plural(v.collections.length, 'collection')} equal, ${plural(v.mismatches.length, 'mismatch', 'mismatches')}`;
  // Cut-down levels keep the differing collections and the first mismatches: what needs a decision.
  const cutDown = (limit: number): string => {
    const collections = [...v.collections.filter((c) => !c.equal), ...v.collections.filter((c) => c.equal)].slice(0, limit);
    const mismatches = v.mismatches.slice(0, limit).map((m) => ({ ...m, detail: clip(m.detail, 300), ids: m.ids?.slice(0, 5) }));
    const more = v.collections.length - collections.length + (v.mismatches.length - mismatches.length);
    return `${head}\n\n${details('Verification detail', renderVerifyMarkdown({ ...v, collections, mismatches }) + (more > 0 ? `\n\n… cut to fit; the JSON report has all ${formatCount(v.collections.length)} collections and ${formatCount(v.mismatches.length)} mismatches` : ''), v.mismatches.length > 0)}`;
  };
  return { name: 'verification', levels: [`${head}\n\n${renderVerifyMarkdown(v)}`, cutDown(100), cutDown(10), head] };
}

function warningsSection(warnings: string[]): Section {
  const list = (limit: number): string => warnings.slice(0, limit).map((w) => `- ⚠️ ${clip(w, 500)}`).join('\n') + (warnings.length > limit ? `\n- … and ${formatCount(warnings.length - limit)} more` : '');
  return { name: 'warnings', levels: [list(Infinity), list(10), `⚠️ ${plural(warnings.length, 'warning')} (see the job log)`] };
}

function collectionsSection(p: Progress): Section {
  const row = (c: Progress['collections'][number]): string =>
    `| ${cell(c.source)} | ${c.target === c.source ? '' : cell(c.target)} | ${c.kind} | ${formatCount(c.documentsCopied)} / ${formatCount(c.documentsTotal)} | ${formatBytes(c.bytesCopied)} / ${formatBytes(c.bytesTotal)} | ${c.done ? '✅' : `${percent(c.bytesTotal ? c.bytesCopied : c.documentsCopied, c.bytesTotal || c.documentsTotal)}%`} |`;
  const done = p.collections.filter((c) => c.done).length;
  const table = (limit: number): string => {
    // Unfinished collections first: when the table is cut, what still moves stays visible.
    const ordered = [...p.collections.filter((c) => !c.done), ...p.collections.filter((c) => c.done)].slice(0, limit);
    const more = p.collections.length - ordered.length;
    const body = ['| source | renamed to | kind | documents | bytes | copied |', '| --- | --- | --- | --- | --- | --- |', ...ordered.map(row)].join('\n');
    return details(`Collections: ${done} / ${p.collections.length} copied`, body + (more > 0 ? `\n\n… and ${formatCount(more)} more` : ''));
  };
  return { name: 'collections', levels: [table(Infinity), table(200), table(20), `Collections: ${done} / ${p.collections.length} copied (detail in the job summary)`] };
}

function historySection(p: Progress): Section {
  const table = (limit: number): string => {
    const rows = p.history.slice(-limit).map((h) => `| ${h.at} | \`${h.phase}\` | ${cell(h.runner)} | ${cell(clip(h.note ?? '', 200))} |`);
    const earlier = p.history.length - rows.length;
    return details('History', ['| at | phase | by | note |', '| --- | --- | --- | --- |', ...rows].join('\n') + (earlier > 0 ? `\n\n(${earlier} earlier entries not shown)` : ''));
  };
  return { name: 'history', levels: [table(Infinity), table(20), ''] };
}

function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

/** Text that goes into a table cell: no pipe, no newline, no HTML (names come from users' databases). */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, ' ');
}

function clipCheck(c: CheckResult): CheckResult {
  return { ...c, message: cell(clip(c.message, 1000)), remedy: c.remedy === undefined ? undefined : cell(clip(c.remedy, 1000)) };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function cut(text: string, budget: number, target: MarkdownContext['target']): string {
  const note = '\n\n… (cut to fit GitHub’s size limit; the job log has everything)\n';
  let end = Math.max(0, budget - measure(note, target));
  // Bytes and characters differ for the summary: shrink until the cut text fits.
  while (end > 0 && measure(text.slice(0, end) + note, target) > budget) end -= Math.max(1, Math.ceil((measure(text.slice(0, end) + note, target) - budget) / 4));
  return text.slice(0, end) + note;
}
