import type { CommandOutcome } from '../model.js';

/**
 * The action's outputs, from an outcome. Pure: run.ts writes them. Every output is always set (an empty
 * string when unknown) so that workflow expressions never read a missing value.
 */
export const OUTPUT_NAMES = ['migration', 'phase', 'lag-seconds', 'ready-for-cutover', 'continue', 'documents-copied', 'report', 'exit-code', 'pull-request'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export function computeOutputs(outcome: CommandOutcome, extra: { migration: string; reportPath: string; pullRequest: number | undefined }): Record<OutputName, string> {
  const p = outcome.progress;
  const ready = p?.readyForCutover === true;
  return {
    migration: extra.migration,
    phase: p?.phase ?? '',
    'lag-seconds': p?.lagSeconds === null || p?.lagSeconds === undefined ? '' : String(Math.round(p.lagSeconds * 1000) / 1000),
    'ready-for-cutover': String(ready),
    // Slices go on while ready and waiting for the cutover's approval (replication must not stop before the
    // cutover takes over), and stop on any failure, so a broken migration does not re-dispatch itself.
    continue: String(outcome.continue === true && outcome.exitCode === 0),
    'documents-copied': p ? String(p.totals.documentsCopied) : '',
    report: extra.reportPath,
    'exit-code': String(outcome.exitCode),
    'pull-request': extra.pullRequest ? String(extra.pullRequest) : '',
  };
}
