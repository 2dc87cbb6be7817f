// Importing this module registers every built command. Edges import it once.
import { registerCommand } from './registry.js';
import { runValidate } from './validate.js';

registerCommand('validate', runValidate);

export { commandImpl, commandSpecs, isCommandName } from './registry.js';
export type { CommandName, CommandOptions } from './types.js';
