import type { Config } from '../config/types.js';
import type { EnginePorts } from '../engine/index.js';
import type { CommandOutcome } from '../model.js';

export const COMMAND_NAMES = ['validate', 'plan', 'sync', 'tail', 'cutover', 'verify', 'status', 'abort', 'rehearse'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Per-invocation options, from CLI flags or action inputs (already checked by the edge). */
export interface CommandOptions {
  /** cutover: the migration name typed (CLI) or passed after the environment approval (action). */
  confirm?: string;
  /** sync and tail: how long this run lasts before it saves its position and exits (tail: overrides tail.maxDuration). */
  maxDurationMs?: number;
  /** abort: also remove what the migration created on the destination. */
  dropDestination?: boolean;
  /** Take the lease from a runner whose lease has not expired. */
  forceTakeover?: boolean;
  /** rehearse: keep the staging destination. */
  keep?: boolean;
  /** cutover with writeBlock none: the user states the applications are stopped. */
  applicationsStopped?: boolean;
}

/** A command as both edges run it: config + options + ports in, an outcome to render out. */
export type CommandImpl = (config: Config, options: CommandOptions, ports: EnginePorts) => Promise<CommandOutcome>;

export interface CommandSpec {
  name: CommandName;
  summary: string;
  /** Undefined while the command is not built: edges say so and exit 2. */
  impl?: CommandImpl;
}
