/**
 * The engine's one door. The edges' commands (src/commands) import the engine from here only (an ESLint rule
 * holds this): each procedure takes the config, the ports and its options, and returns its result with the
 * progress already computed against the cutover threshold.
 */
export type { EnginePorts } from './ports.js';
export type { MigrationDoc, PartitionDoc } from './state/types.js';

export { syncSlice, type SyncSliceOptions, type SyncSliceResult } from './procedures/sync.js';
export { tailSlice, type TailSliceOptions, type TailSliceResult } from './procedures/tail.js';
export { readStatus, type StatusResult } from './procedures/status.js';
export { abortMigration, type AbortOptions, type AbortResult } from './procedures/abort.js';
export { verifyNow, type VerifyNowResult, type VerifyStance } from './procedures/verify.js';

// Cutover and rehearse: one pipeline (freeze, drain, verify, finalize) with the freeze and the verifier as
// strategies; their commands still open the run and gate it, hence the run pieces here too.
export { VerificationFailed, runCutoverEngine } from './cutover/cutover.js';
export { restoreRelaxedIndexes } from './cutover/restore-indexes.js';
export { HANDOFF_WAIT_MS, clearCutoverRequest, requestCutover } from './handoff.js';
export { buildProgress } from './progress.js';
export { compareAtSnapshot } from './rehearse/snapshot-compare.js';
export { rehearseEngine } from './rehearse/rehearse.js';
export { retryTransient, withReconnect } from './reconnect.js';
export { closeRun, openRun, transition } from './run.js';
export { StateStore } from './state/store.js';
export { runSyncEngine } from './sync.js';
export { tailLoop } from './tail.js';
