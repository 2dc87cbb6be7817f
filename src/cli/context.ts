import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';

/** What every CLI command receives: parsed flags, the loaded config, where to print, how to log. */
export interface CommandContext {
  config: Config;
  flags: CliFlags;
  log: Logger;
  out: Output;
  /** Fires on SIGINT / SIGTERM so long-running commands can save their position and exit 0. */
  signal: AbortSignal;
}

export interface CliFlags {
  json: boolean;
  confirm?: string;
  maxDuration?: string;
  dropDestination: boolean;
  forceTakeover: boolean;
  keep: boolean;
  applicationsStopped: boolean;
}

export interface Output {
  /** Results (tables, JSON): stdout. */
  write(text: string): void;
  /** True when stdout is a terminal (progress bars, colours). */
  isTTY: boolean;
  /** Live progress lines: stderr, redrawn in place in a terminal. */
  progress(text: string): void;
}

export interface Command {
  name: string;
  summary: string;
  /** Flags this command takes beyond the common ones, for --help. */
  flags?: string[];
  /** False for commands that run without migration.yaml. */
  needsConfig?: boolean;
  run(ctx: CommandContext): Promise<number>;
}
