import type { VerificationProgress } from '../model.js';

/** One clause on continuous verification for a command's summary line ('' without it). */
export function describeVerification(v: VerificationProgress | undefined): string {
  if (!v) return '';
  const downtime = v.predictedDowntimeSeconds === null ? '' : `, predicted downtime ${v.predictedDowntimeSeconds.toFixed(1)} s`;
  return `verified ${v.partitionsVerified}/${v.partitionsTotal} partitions (${v.documentsVerified} documents), recheck queue ${v.recheckQueue}, ${v.mismatches} mismatch${v.mismatches === 1 ? '' : 'es'}${downtime}; `;
}
