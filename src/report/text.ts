import { renderChecksText, renderPlanText } from './checks-render.js';
import type { CommandOutcome, Progress } from './model.js';

/** Plain-text rendering of an outcome for a terminal or a log. Pure. */
export function renderText(outcome: CommandOutcome): string {
  const lines: string[] = [];
  if (outcome.checks) lines.push(...renderChecksText(outcome.checks));
  if (outcome.plan) lines.push(...renderPlanText(outcome.plan));
  lines.push(outcome.summary);
  if (outcome.nextStep) lines.push(`next: ${outcome.nextStep}`);
  return lines.join('\n') + '\n';
}

/** One line of live progress (redrawn in place in a terminal, logged elsewhere). Pure. */
export function renderProgressLine(p: Progress): string {
  const { documentsCopied, documentsTotal } = p.totals;
  const pct = documentsTotal ? Math.min(100, Math.floor((documentsCopied / documentsTotal) * 100)) : 100;
  const width = 20;
  const filled = Math.round((pct / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const lag = p.lagSeconds === null ? 'lag -' : `lag ${p.lagSeconds.toFixed(1)}s`;
  const eta = p.etaSeconds === null ? '' : ` eta ${Math.ceil(p.etaSeconds)}s`;
  return `${p.phase}${p.step ? `/${p.step}` : ''} ${bar} ${pct}% ${documentsCopied}/${documentsTotal} docs ${lag}${eta} applied ${p.eventsApplied}`;
}
