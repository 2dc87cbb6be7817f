// Importing this module registers every built command. Edges import it once.
import { registerCommand } from './registry.js';
import { runValidate } from './validate.js';
import { runPlan } from './plan.js';
import { runAbort } from './abort.js';
import { runCutover } from './cutover.js';
import { runRehearse } from './rehearse.js';
import { runStatus } from './status.js';
import { runSync } from './sync.js';
import { runTail } from './tail.js';
import { runVerify } from './verify.js';

registerCommand('validate', runValidate);
registerCommand('plan', runPlan);
registerCommand('sync', runSync);
registerCommand('tail', runTail);
registerCommand('status', runStatus);
registerCommand('cutover', runCutover);
registerCommand('abort', runAbort);
registerCommand('rehearse', runRehearse);
registerCommand('verify', runVerify);

export { commandImpl, commandSpecs, isCommandName } from './registry.js';
export type { CommandName, CommandOptions } from './types.js';
export { settingsFromEnvironment, type EnginePorts } from '../engine/index.js';
