import { readStatus } from '../engine/index.js';
import { formatCount, formatDuration, plural } from '../format.js';
import { nextStepFor } from './next-step.js';
import { describeVerification } from './verification-summary.js';
import type { CommandImpl } from './types.js';

/** status: the state as the destination holds it, with readiness judged now against the source (no lease needed). */
export const runStatus: CommandImpl = async (config) => {
  const { doc, readiness, progress, majority } = await readStatus(config);
  const blocked = progress.sourceWriteBlocked ? '; the SOURCE IS WRITE-BLOCKED by this migration' : '';
  const verifyReasons = progress.warnings.filter((w) => w.startsWith('not ready: continuous') || w.startsWith('not ready: verification')).map((w) => w.slice('not ready: '.length));
  const reasons = [...readiness.reasons, ...verifyReasons];
  const notReady = doc.phase === 'tailing' && reasons.length ? `; not ready: ${reasons.join('; ')}` : '';
  // While syncing, the capture's saved point only moves with relevant events: its age is no warning sign.
  // A majority point that trails holds every phase back (the copy, the tail, the cutover's writes).
  const warnings = [...(doc.phase === 'tailing' ? readiness.warnings : []), ...majority];
  const warned = warnings.length ? `; warning: ${warnings.join('; ')}` : '';
  return {
    command: 'status',
    exitCode: doc.phase === 'failed' ? 1 : 0,
    summary: `migration "${config.name}": ${doc.phase}${doc.step ? `/${doc.step}` : ''}, ${formatCount(progress.totals.documentsCopied)}/${plural(progress.totals.documentsTotal, 'document')}, lag ${progress.lagSeconds === null ? '-' : formatDuration(progress.lagSeconds)}${progress.verification ? `; ${describeVerification(progress.verification).replace(/; $/, '')}` : ''}${progress.readyForCutover ? ', ready for cutover' : ''}${notReady}${warned}${blocked}${doc.error ? `; error: ${doc.error}` : ''}`,
    progress,
    continue: doc.phase === 'syncing' || (doc.phase === 'tailing' && !progress.readyForCutover),
    nextStep: nextStepFor(config, doc, progress.readyForCutover),
  };
};
