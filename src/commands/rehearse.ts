import { formatConfigDuration as formatDuration, plural } from '../format.js';
import { rehearse } from '../engine/index.js';
import { runValidate } from './validate.js';
import type { CommandImpl } from './types.js';

const DEFAULT_TAIL_MS = 60_000;

/**
 * rehearse: the whole migration against a staging destination, without touching the real source's writes:
 * validate, then the engine's rehearsal (sync, tail with continuous verification, and the cutover pipeline with
 * a frozen source time T instead of a write block; see engine/cutover/pipeline.ts), and report the timings and
 * the predicted downtime the real run will see. The staging destination is cleaned up unless --keep.
 */
export const runRehearse: CommandImpl = async (config, options, ports) => {
  const validation = await runValidate(config, options, ports);
  if (validation.exitCode !== 0) return { ...validation, command: 'rehearse', summary: `rehearsal stopped: validation failed. ${validation.summary}` };
  const result = await rehearse(config, ports, { tailMs: options.maxDurationMs ?? DEFAULT_TAIL_MS, keep: Boolean(options.keep), ...(options.forceTakeover ? { forceTakeover: true } : {}) });
  const { timings, verification, recheck, lags } = result;
  const mismatches = verification.mismatches.length + recheck.mismatches.length;
  const cleanup = result.dropped
    ? `staging destination cleaned up (${plural(result.dropped.length, 'collection')} and the rehearsal's state removed; --keep keeps them)`
    : 'staging destination kept (--keep)';
  const sorted = [...lags].sort((a, b) => a - b);
  const pct = (p: number): string => (sorted.length ? `${sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1)} s` : '-');
  const inBlock = (step: string): boolean => result.blockSteps.some((s) => step === s || step.startsWith(`${s}:`));
  const lines = [
    `rehearsal of "${config.name}": ${mismatches ? `${mismatches} MISMATCHES` : 'destination equals the source as of the frozen point'}`,
    ...Object.entries(timings).map(([step, ms]) => `  ${step.padEnd(24)} ${formatDuration(ms)} (${ms} ms)${inBlock(step) ? ' [inside the write block]' : ''}`),
    `  tail lag                 p50 ${pct(0.5)}, p99 ${pct(0.99)} over ${lags.length} batches`,
    `  predicted downtime ${result.predictedDowntimeSeconds.toFixed(1)} s (the steps marked above, as the cutover pipeline ran them at the frozen point)`,
    `  ${cleanup}`,
  ];
  return {
    command: 'rehearse',
    exitCode: mismatches ? 1 : 0,
    summary: lines.join('\n'),
    progress: result.progress,
    verification: { ...verification, mismatches: [...recheck.mismatches, ...verification.mismatches], notes: [...(recheck.notes ?? []), ...(verification.notes ?? [])] },
    continue: false,
    nextStep: mismatches ? 'investigate the mismatches before the real migration' : `the real run: mongo-live-migrate sync --config ${config.file}`,
  };
};
