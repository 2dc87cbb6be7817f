import { renderChecksText, renderPlanText } from './checks-render.js';
import type { CollectionProgress, CommandOutcome, Progress } from './model.js';
import { renderVerifyText } from './verify-render.js';

/**
 * Terminal renderers: the text of an outcome, one live progress line, and a block of per-collection bars.
 * Pure, and locale-free (no toLocaleString) so that output is the same on every machine. The number helpers
 * here are shared with the markdown renderer.
 */

/** Plain-text rendering of an outcome for a terminal or a log. Pure. */
export function renderText(outcome: CommandOutcome): string {
  const lines: string[] = [];
  if (outcome.checks) lines.push(...renderChecksText(outcome.checks));
  if (outcome.plan) lines.push(...renderPlanText(outcome.plan));
  if (outcome.progress) lines.push(...renderStatusText(outcome.progress, outcome.command === 'status'));
  if (outcome.verification) lines.push(...renderVerifyText(outcome.verification));
  lines.push(outcome.summary);
  if (outcome.progress?.error) lines.push(`error: ${outcome.progress.error}`);
  if (outcome.nextStep) lines.push(`next: ${outcome.nextStep}`);
  return lines.join('\n') + '\n';
}

/** One line of live progress (redrawn in place in a terminal, logged elsewhere). Pure. */
export function renderProgressLine(p: Progress): string {
  const { documentsCopied, documentsTotal, bytesCopied, bytesTotal } = p.totals;
  const pct = percent(documentsCopied, documentsTotal);
  const lag = p.lagSeconds === null ? 'lag -' : `lag ${formatSeconds(p.lagSeconds)}`;
  const eta = p.etaSeconds === null ? '' : ` eta ${formatSeconds(p.etaSeconds)}`;
  const done = p.collections.filter((c) => c.done).length;
  const colls = p.collections.length ? ` ${done}/${p.collections.length} colls` : '';
  const ready = p.readyForCutover ? ' READY' : '';
  return `${phaseLabel(p)} ${bar(pct, 20)} ${pct}% ${formatCount(documentsCopied)}/${formatCount(documentsTotal)} docs ${formatBytes(bytesCopied)}/${formatBytes(bytesTotal)}${colls} ${lag}${eta} applied ${formatCount(p.eventsApplied)}${ready}`;
}

export interface ProgressBlockOptions {
  /** Terminal width in columns; lines never exceed it. */
  columns?: number;
  /** Collections shown; the rest are summarised on one line (busy ones first, then unfinished, then done). */
  maxCollections?: number;
}

/**
 * A multi-line progress view for a terminal: the overall line, then one bar per collection. An edge that owns
 * a TTY redraws it in place (move the cursor up by the previous block's line count); elsewhere log only
 * renderProgressLine. Pure.
 */
export function renderProgressBlock(p: Progress, options: ProgressBlockOptions = {}): string[] {
  const columns = Math.max(40, options.columns ?? 100);
  const max = Math.max(1, options.maxCollections ?? 10);
  const lines = [fit(renderProgressLine(p), columns)];
  // In-flight collections first (they are what moves), then those not started, then finished ones.
  const rank = (c: CollectionProgress): number => (c.done ? 2 : c.documentsCopied > 0 || c.bytesCopied > 0 ? 0 : 1);
  const ordered = [...p.collections].sort((a, b) => rank(a) - rank(b) || a.source.localeCompare(b.source));
  const shown = ordered.slice(0, max);
  const nameWidth = Math.min(40, Math.max(10, ...shown.map((c) => c.source.length)));
  for (const c of shown) {
    const pct = c.done ? 100 : percent(c.bytesTotal ? c.bytesCopied : c.documentsCopied, c.bytesTotal || c.documentsTotal);
    const name = c.source.length > nameWidth ? `${c.source.slice(0, nameWidth - 1)}…` : c.source.padEnd(nameWidth);
    const state = c.done ? 'done' : `${String(pct).padStart(3)}%`;
    lines.push(fit(`  ${name} ${bar(pct, 16)} ${state} ${formatCount(c.documentsCopied)}/${formatCount(c.documentsTotal)} docs ${formatBytes(c.bytesCopied)}`, columns));
  }
  const rest = ordered.length - shown.length;
  if (rest > 0) {
    const restDone = ordered.slice(max).filter((c) => c.done).length;
    lines.push(`  … ${rest} more collection${rest === 1 ? '' : 's'} (${restDone} done)`);
  }
  return lines;
}

function renderStatusText(p: Progress, withHistory: boolean): string[] {
  const lines = [`phase: ${phaseLabel(p)} (since ${p.phaseSince})`];
  if (withHistory && p.history.length) {
    lines.push('history:');
    for (const h of p.history) lines.push(`  ${h.at}  ${h.phase.padEnd(12)} ${h.runner}${h.note ? `  (${h.note})` : ''}`);
  }
  if (p.collections.length) lines.push(...renderProgressBlock(p, { maxCollections: 20 }).slice(1));
  const lag = p.lagSeconds === null ? '-' : formatSeconds(p.lagSeconds);
  const headroom = p.oplogHeadroomSeconds === null ? '-' : formatSeconds(p.oplogHeadroomSeconds);
  lines.push(`copied ${formatCount(p.totals.documentsCopied)}/${formatCount(p.totals.documentsTotal)} documents, lag ${lag}, oplog headroom ${headroom}, ready for cutover: ${p.readyForCutover ? 'yes' : 'no'}`);
  if (p.sourceWriteBlocked) lines.push('the source is write-blocked by this migration');
  if (p.downtimeSeconds !== undefined) lines.push(`write downtime: ${formatSeconds(p.downtimeSeconds)}`);
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  return lines;
}

function phaseLabel(p: Progress): string {
  return `${p.phase}${p.step ? `/${p.step}` : ''}`;
}

function bar(pct: number, width: number): string {
  const filled = Math.round((pct / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function fit(line: string, columns: number): string {
  return line.length <= columns ? line : `${line.slice(0, columns - 1)}…`;
}

/** 1234567 → "1,234,567"; fractions keep one decimal. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const [int = '0', frac] = String(Number.isInteger(abs) ? abs : Math.round(abs * 10) / 10).split('.');
  return `${n < 0 ? '-' : ''}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ? `.${frac}` : ''}`;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = Math.max(0, n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** 42.5 → "42.5s"; 3725 → "1h 2m"; 200000 → "2d 7h". For lags, ETAs and headroom. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (s < 60) return `${Math.round(s * 10) / 10}s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${total % 60}s`;
}

/** Whole percent, floored so that 100% means done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}
