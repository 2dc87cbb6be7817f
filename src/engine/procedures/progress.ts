import type { Config } from '../../config/types.js';
import type { Progress, VerificationProgress } from '../../model.js';
import { buildProgress } from '../progress.js';
import type { Readiness } from '../readiness.js';
import type { MigrationDoc, PartitionDoc } from '../state/types.js';

export interface ProgressExtra {
  oplogHeadroomSeconds?: number | null;
  readiness?: Readiness;
  verification?: VerificationProgress;
}

/**
 * The progress a procedure hands back, always judged against the configured cutover threshold: readiness
 * must not depend on a caller remembering to pass it.
 */
export function progressFor(config: Config, doc: MigrationDoc, partitions: PartitionDoc[], extra: ProgressExtra = {}): Progress {
  return buildProgress(doc, partitions, { ...extra, maxLagSeconds: config.cutover.maxLagSeconds });
}
