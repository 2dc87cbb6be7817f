import { UserError } from '../errors.js';
import type { CommandImpl, CommandName, CommandSpec } from './types.js';

// Each command's implementation registers here; the CLI and the GitHub Action both run them from this table.
const specs: Record<CommandName, CommandSpec> = {
  validate: { name: 'validate', summary: 'check migration.yaml and every pre-migration condition on both clusters' },
  plan: { name: 'plan', summary: 'show what will move, sizes and an estimated duration' },
  sync: { name: 'sync', summary: 'copy every included collection while capturing changes, then catch up' },
  tail: { name: 'tail', summary: 'keep the destination in sync from the change stream for a time-boxed slice' },
  cutover: { name: 'cutover', summary: 'block source writes, drain, verify and commit (needs --confirm <name>)' },
  verify: { name: 'verify', summary: 'compare source and destination: counts, content hashes, indexes, options' },
  status: { name: 'status', summary: 'phase, history, copy progress, lag and oplog headroom' },
  abort: { name: 'abort', summary: 'stop the migration and lift the source write block' },
  rehearse: { name: 'rehearse', summary: 'a full dry run against a staging destination, without blocking the source' },
};

export function registerCommand(name: CommandName, impl: CommandImpl): void {
  specs[name].impl = impl;
}

export function commandSpecs(): CommandSpec[] {
  return Object.values(specs);
}

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(specs, name);
}

/** The implementation, or a UserError (exit 2) saying the command is not built yet. */
export function commandImpl(name: CommandName): CommandImpl {
  const impl = specs[name].impl;
  if (!impl) throw new UserError(`the ${name} command is not built yet in this version of mongo-live-migrate`);
  return impl;
}
