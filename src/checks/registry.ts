import { scrub } from '../redact.js';
import type { CheckResult } from '../model.js';
import { collectionKindsCheck } from './collection-kinds.js';
import { connectionCheck } from './connection.js';
import { destinationConflictsCheck, stateDatabaseCheck } from './destination-conflicts.js';
import { destinationNeighboursCheck } from './destination-neighbours.js';
import { diskCheck } from './disk.js';
import { fieldNamesCheck } from './documents.js';
import { indexesCheck } from './indexes.js';
import { majorityCheck } from './majority.js';
import { namespaceLimitsCheck } from './namespace-limits.js';
import { namespacesCheck } from './namespaces.js';
import { oplogWindowCheck } from './oplog-window.js';
import { privilegesCheck } from './privileges.js';
import { topologyCheck } from './topology.js';
import { transportCheck } from './transport.js';
import type { Check, CheckContext } from './types.js';
import { usersCheck } from './users.js';
import { fcvCheck, upgradePathCheck, versionCheck } from './versions.js';

/** Every pre-migration check, in report order (connection first, data last). */
export const CHECKS: readonly Check[] = [
  connectionCheck('source'),
  connectionCheck('destination'),
  transportCheck('source'),
  transportCheck('destination'),
  topologyCheck('source'),
  topologyCheck('destination'),
  majorityCheck('source'),
  majorityCheck('destination'),
  versionCheck('source'),
  versionCheck('destination'),
  upgradePathCheck,
  fcvCheck('source'),
  fcvCheck('destination'),
  privilegesCheck('source'),
  privilegesCheck('destination'),
  oplogWindowCheck,
  stateDatabaseCheck,
  namespacesCheck,
  namespaceLimitsCheck,
  destinationConflictsCheck,
  destinationNeighboursCheck,
  diskCheck,
  collectionKindsCheck,
  indexesCheck,
  fieldNamesCheck,
  usersCheck,
];

/**
 * Runs every check and never stops at the first problem: a check that needs an unreachable side is skipped
 * ("not run": neither a pass nor a warning; the connection check's failure explains it), and a check that throws (a refused command, an unexpected reply) becomes a failure of that
 * check alone, its message scrubbed of secrets.
 */
export async function runChecks(context: CheckContext, checks: readonly Check[] = CHECKS): Promise<CheckResult[]> {
  return Promise.all(
    checks.map(async (check): Promise<CheckResult> => {
      const head = { id: check.id, title: check.title };
      const down = check.needs.filter((side) => !context[side].client);
      if (down.length) {
        return { ...head, status: 'skip', message: `not run: the ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} not reachable`, remedy: `fix ${down.map((s) => `${s}.connection`).join(' and ')} first` };
      }
      try {
        const finding = await check.run(context);
        return { ...head, ...finding, message: scrub(finding.message), ...(finding.remedy ? { remedy: scrub(finding.remedy) } : {}) };
      } catch (error) {
        const e = error as { message?: string; codeName?: string; code?: number };
        const text = scrub(String(e.message ?? error).split('\n')[0] ?? '').slice(0, 300);
        const unauthorized = e.code === 13 || e.codeName === 'Unauthorized';
        return {
          ...head,
          status: 'fail',
          message: `could not check: ${text}`,
          remedy: unauthorized ? 'the user lacks a privilege this check needs: see the privileges checks for the roles to grant' : 'run again with --log-level debug; if it persists, report it with that output',
        };
      }
    }),
  );
}
