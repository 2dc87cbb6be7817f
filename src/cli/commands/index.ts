import type { Command } from '../context.js';
import { notBuilt } from './not-built.js';
import { validateCommand } from './validate.js';

export const commands: Command[] = [
  validateCommand,
  notBuilt('plan', 'show what will move, sizes and an estimated duration'),
  notBuilt('sync', 'copy every included collection while capturing changes, then catch up'),
  notBuilt('tail', 'keep the destination in sync from the change stream for a time-boxed slice'),
  notBuilt('cutover', 'block source writes, drain, verify and commit (needs --confirm <name>)'),
  notBuilt('verify', 'compare source and destination: counts, content hashes, indexes, options'),
  notBuilt('status', 'phase, history, copy progress, lag and oplog headroom'),
  notBuilt('abort', 'stop the migration and lift the source write block'),
  notBuilt('rehearse', 'a full dry run against a staging destination, without blocking the source'),
  notBuilt('demo', 'run a whole migration between two local replica sets'),
];

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}
