// Importing this module registers every built command. Edges import it once.
import { registerCommand } from './registry.js';
import { runValidate } from './validate.js';
import { runPlan } from './plan.js';

registerCommand('validate', runValidate);
registerCommand('plan', runPlan);

export { commandImpl, commandSpecs, isCommandName } from './registry.js';
export type { CommandName, CommandOptions } from './types.js';
