/**
 * The engine's one door. The edges' commands (src/commands) import the engine from here only (an ESLint rule
 * holds this): each procedure takes the config, the ports and its options, and returns its result with the
 * progress already computed against the cutover threshold.
 */
export { settingsFromEnvironment, type EngineSettings, type EnginePorts } from './ports.js';
export type { MigrationDoc, PartitionDoc } from './state/types.js';

export { syncSlice, type SyncSliceOptions, type SyncSliceResult } from './procedures/sync.js';
export { tailSlice, type TailSliceOptions, type TailSliceResult } from './procedures/tail.js';
export { readStatus, type StatusResult } from './procedures/status.js';
export { abortMigration, type AbortOptions, type AbortResult } from './procedures/abort.js';
export { verifyNow, type VerifyNowResult, type VerifyStance } from './procedures/verify.js';

export { cutover, type CutoverOutcome, type CutoverProcedureOptions } from './procedures/cutover.js';
export { rehearse, type RehearseOptions, type RehearseResult } from './procedures/rehearse.js';

// For tests and the demo that drive a run piece by piece.
export { compareAtSnapshot } from './rehearse/snapshot-compare.js';
export { closeRun, openRun } from './run.js';
export { tailLoop } from './tail.js';
