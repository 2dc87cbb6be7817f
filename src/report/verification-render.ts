import { formatCount } from '../format.js';
import type { VerificationProgress } from './model.js';

/** Continuous verification's coverage in words: what the cutover will still have to recheck, and what it predicts. */
function parts(v: VerificationProgress): { coverage: string; queue: string; mismatches: string; downtime: string } {
  return {
    coverage: `${formatCount(v.documentsVerified)}/${formatCount(v.documentsTotal)} documents, ${v.partitionsVerified}/${v.partitionsTotal} partitions${v.complete ? ' (complete)' : ''}`,
    queue: formatCount(v.recheckQueue),
    mismatches: v.mismatches ? `${v.mismatches}: ${v.mismatchDetails.join('; ')}` : '0',
    downtime: v.predictedDowntimeSeconds === null ? '-' : `${v.predictedDowntimeSeconds.toFixed(1)} s`,
  };
}

/** One line for the terminal. */
export function verificationText(v: VerificationProgress): string {
  const p = parts(v);
  return `verified ${p.coverage}, recheck queue ${p.queue}, mismatches ${p.mismatches}, predicted downtime ${p.downtime}`;
}

/** Rows for the PR comment's and job summary's status table. */
export function verificationRows(v: VerificationProgress | undefined): [string, string][] {
  if (!v) return [];
  const p = parts(v);
  return [
    ['verified', p.coverage],
    ['recheck queue', p.queue],
    ['mismatches', v.mismatches ? `**${p.mismatches}**` : '0'],
    ['predicted downtime', p.downtime],
  ];
}
