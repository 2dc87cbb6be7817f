import { formatBytes, formatCount, formatDuration as formatSeconds, percent, plural } from '../format.js';
import { verificationText } from './verification-render.js';
import { renderChecksText, renderPlanText } from './checks-render.js';
import { plain, type Colors } from './colors.js';
import type { CollectionProgress, CommandOutcome, Phase, Progress } from '../model.js';
import { renderVerifyText } from './verify-render.js';

/**
 * Terminal renderers: the text of an outcome, one live progress line, and a block of per-collection bars.
 * Pure, and locale-free (numbers through src/format.ts) so that output is the same on every machine.
 * Colour only when the caller passes colours (a terminal that wants them).
 */

// Kept for callers that imported the number helpers from here; src/format.ts is their one definition.
export { formatBytes, formatCount, formatSeconds, percent };

export interface TextOptions {
  colors?: Colors;
}

/** Plain-text rendering of an outcome for a terminal or a log. Pure. */
export function renderText(outcome: CommandOutcome, options: TextOptions = {}): string {
  const c = options.colors ?? plain;
  const lines: string[] = [];
  if (outcome.checks) lines.push(...renderChecksText(outcome.checks, { colors: c }));
  if (outcome.plan) lines.push(...renderPlanText(outcome.plan));
  if (outcome.progress) lines.push(...renderStatusText(outcome.progress, outcome.command === 'status', c));
  if (outcome.verification) lines.push(...renderVerifyText(outcome.verification));
  lines.push(outcome.exitCode === 0 ? outcome.summary : c.red(outcome.summary));
  if (outcome.progress?.error) lines.push(c.red(`error: ${outcome.progress.error}`));
  if (outcome.nextStep) lines.push(`${c.bold('next:')} ${outcome.nextStep}`);
  return lines.join('\n') + '\n';
}

/** A phase name in its colour: green when committed, red when failed, yellow while it moves. */
export function paintPhase(phase: Phase, text: string, c: Colors): string {
  if (phase === 'committed') return c.green(text);
  if (phase === 'failed') return c.red(text);
  if (phase === 'aborted') return c.dim(text);
  return c.yellow(text);
}

/** One line of live progress (redrawn in place in a terminal, logged elsewhere), coloured when asked. Pure. */
export function renderProgressLine(p: Progress, c: Colors = plain): string {
  const { documentsCopied, documentsTotal, bytesCopied, bytesTotal } = p.totals;
  const pct = percent(documentsCopied, documentsTotal);
  const lag = p.lagSeconds === null ? 'lag -' : `lag ${formatSeconds(p.lagSeconds)}`;
  const eta = p.etaSeconds === null ? '' : ` eta ${formatSeconds(p.etaSeconds)}`;
  const done = p.collections.filter((c) => c.done).length;
  const colls = p.collections.length ? ` ${done}/${p.collections.length} colls` : '';
  const ready = p.readyForCutover ? ` ${c.green('READY')}` : '';
  return `${paintPhase(p.phase, phaseLabel(p), c)} ${bar(pct, 20)} ${pct}% ${formatCount(documentsCopied)}/${formatCount(documentsTotal)} docs ${formatBytes(bytesCopied)}/${formatBytes(bytesTotal)}${colls} ${lag}${eta} applied ${formatCount(p.eventsApplied)}${ready}`;
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
    lines.push(`  … ${plural(rest, 'more collection', 'more collections')} (${formatCount(restDone)} done)`);
  }
  return lines;
}

function renderStatusText(p: Progress, withHistory: boolean, c: Colors): string[] {
  const lines = [`phase: ${paintPhase(p.phase, phaseLabel(p), c)} (since ${p.phaseSince})`];
  if (withHistory && p.history.length) {
    lines.push('history:');
    for (const h of p.history) lines.push(`  ${h.at}  ${paintPhase(h.phase, h.phase.padEnd(12), c)} ${h.runner}${h.note ? `  (${h.note})` : ''}`);
  }
  if (p.collections.length) lines.push(...renderProgressBlock(p, { maxCollections: 20 }).slice(1));
  const lag = p.lagSeconds === null ? '-' : formatSeconds(p.lagSeconds);
  const headroom = p.oplogHeadroomSeconds === null ? '-' : formatSeconds(p.oplogHeadroomSeconds);
  lines.push(`copied ${formatCount(p.totals.documentsCopied)}/${formatCount(p.totals.documentsTotal)} documents, lag ${lag}, oplog headroom ${headroom}${readiness(p, c)}`);
  if (p.verification) lines.push(verificationText(p.verification));
  if (p.sourceWriteBlocked) lines.push(c.yellow('the source is write-blocked by this migration'));
  if (p.downtimeSeconds !== undefined) lines.push(`write downtime: ${formatSeconds(p.downtimeSeconds)}`);
  for (const w of p.warnings) lines.push(`${c.yellow('warning:')} ${w}`);
  return lines;
}

/** "ready for cutover" only means something before the cutover: after it (or an abort) it is left out. */
function readiness(p: Progress, c: Colors): string {
  if (!isBeforeCutover(p.phase)) return '';
  return `, ready for cutover: ${p.readyForCutover ? c.green('yes') : 'no'}`;
}

export function isBeforeCutover(phase: Phase): boolean {
  return phase === 'created' || phase === 'validated' || phase === 'syncing' || phase === 'tailing';
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
