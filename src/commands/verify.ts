import { verifyNow } from '../engine/index.js';
import { plural } from '../format.js';
import type { VerifyReport } from '../model.js';
import type { CommandImpl } from './types.js';

export function verifySummary(report: VerifyReport, because: string): string {
  const n = report.collections.length;
  const differing = new Set(report.mismatches.map((m) => m.namespace)).size;
  const result = report.mismatches.length
    ? `${plural(report.mismatches.length, 'mismatch', 'mismatches')} in ${plural(differing, 'collection')}`
    : 'equal';
  const approximate = report.exact ? '' : ` (approximate: the source is still changing — ${because}; the verification at cutover is exact)`;
  return `verified ${plural(n, 'collection')} (${report.mode}): ${result}${approximate}`;
}

/** verify: usable at any time; exit 1 when anything differs. */
export const runVerify: CommandImpl = async (config, _options, ports) => {
  const { report, stance } = await verifyNow(config, ports);
  return {
    command: 'verify',
    exitCode: report.mismatches.length ? 1 : 0,
    summary: verifySummary(report, stance.because),
    verification: report,
  };
};
