import type { Side } from '../mongo/connect.js';
import type { BuildInfo } from '../mongo/introspection.js';
import { featureCompatibilityVersion } from '../mongo/introspection.js';
import { fail, pass, warn, type Check, type Finding } from './types.js';

/**
 * Supported MongoDB versions, and why.
 * - 6.0 is the floor on both sides: the engine opens change streams with showExpandedEvents (DDL events such
 *   as create, createIndexes, modify, rename; 6.0+) and blocks source writes with setUserWriteBlockMode (6.0+).
 * - Majors above MAX_TESTED_MAJOR are unknown to this release: a warning, not a failure.
 */
export const MIN_SUPPORTED: readonly [number, number] = [6, 0];
export const MAX_TESTED_MAJOR = 8;
export const SUPPORTED_RANGE = `${MIN_SUPPORTED.join('.')} to ${MAX_TESTED_MAJOR}.x`;

function majorMinor(info: BuildInfo): [number, number] {
  return [info.versionArray[0] ?? 0, info.versionArray[1] ?? 0];
}

/** Pure: is one side's server version supported? */
export function assessVersion(side: Side, info: BuildInfo): Finding {
  const [major, minor] = majorMinor(info);
  if (major < MIN_SUPPORTED[0] || (major === MIN_SUPPORTED[0] && minor < MIN_SUPPORTED[1])) {
    return fail(
      `the ${side} runs MongoDB ${info.version}; supported: ${SUPPORTED_RANGE} (6.0 brings change-stream DDL events with showExpandedEvents and setUserWriteBlockMode, both required)`,
      `upgrade the ${side} to MongoDB 6.0 or newer (one major at a time, setting featureCompatibilityVersion after each)`,
    );
  }
  if (major > MAX_TESTED_MAJOR) {
    return warn(`the ${side} runs MongoDB ${info.version}, newer than this release was tested with (${SUPPORTED_RANGE})`, 'run a rehearsal against a copy first, or use a newer mongo-live-migrate');
  }
  return pass(`MongoDB ${info.version} (supported: ${SUPPORTED_RANGE})`);
}

/** Pure: the destination must not be older than the source (an older server may reject newer data or options). */
export function assessUpgradePath(source: BuildInfo, destination: BuildInfo): Finding {
  const [sMajor] = majorMinor(source);
  const [dMajor] = majorMinor(destination);
  if (dMajor < sMajor) {
    return fail(
      `source MongoDB ${source.version} → destination ${destination.version}: the destination's major version is older than the source's`,
      `use a destination running MongoDB ${sMajor}.0 or newer; migrating to an older major is not supported (its index, validator and collection options may be rejected)`,
    );
  }
  return pass(`source ${source.version} → destination ${destination.version} (same or newer major)`);
}

/** Pure: FCV must be readable, at least 6.0, and should match the binary (else an upgrade is half done). */
export function assessFcv(side: Side, info: BuildInfo, fcv: string | null): Finding {
  const steady = 'it must not change while the migration runs (no setFeatureCompatibilityVersion until cutover is committed)';
  if (fcv === null) {
    return warn(`could not read the ${side}'s featureCompatibilityVersion (needs getParameter: role clusterMonitor); ${steady}`, `grant clusterMonitor on the ${side} to let validate check it`);
  }
  if (fcv.includes('→')) {
    return fail(`the ${side}'s featureCompatibilityVersion is changing (${fcv}); ${steady}`, 'finish the upgrade or downgrade (setFeatureCompatibilityVersion) before migrating');
  }
  const [major = 0, minor = 0] = fcv.split('.').map(Number);
  const [bMajor, bMinor] = majorMinor(info);
  if (major < MIN_SUPPORTED[0]) {
    return fail(`the ${side}'s featureCompatibilityVersion is ${fcv} (binary ${info.version}); 6.0+ features need FCV 6.0 or newer`, `run db.adminCommand({setFeatureCompatibilityVersion: "${bMajor}.${bMinor}", confirm: true}) on the ${side} before the migration starts`);
  }
  if (major !== bMajor || minor !== bMinor) {
    return warn(`the ${side}'s featureCompatibilityVersion is ${fcv} while the binary is ${info.version}: an upgrade is unfinished; ${steady}`, `set it now if you intend to (setFeatureCompatibilityVersion "${bMajor}.${bMinor}"), then leave it alone until cutover`);
  }
  return pass(`featureCompatibilityVersion ${fcv}; ${steady}`);
}

export function versionCheck(side: Side): Check {
  return {
    id: `${side}.version`,
    title: `${side === 'source' ? 'Source' : 'Destination'} MongoDB version`,
    needs: [side],
    run: async (context) => assessVersion(side, await context.facts.buildInfo(side)),
  };
}

export const upgradePathCheck: Check = {
  id: 'versions.upgrade-path',
  title: 'Destination version not older than the source',
  needs: ['source', 'destination'],
  run: async (context) => assessUpgradePath(await context.facts.buildInfo('source'), await context.facts.buildInfo('destination')),
};

export function fcvCheck(side: Side): Check {
  return {
    id: `${side}.fcv`,
    title: `${side === 'source' ? 'Source' : 'Destination'} featureCompatibilityVersion`,
    needs: [side],
    async run(context) {
      const fcv = await featureCompatibilityVersion(context.facts.client(side)).catch(() => null);
      return assessFcv(side, await context.facts.buildInfo(side), fcv);
    },
  };
}
