import type { Config } from '../config/types.js';
import type { CommandOptions } from './types.js';

/**
 * The one time-box policy of the slice commands (sync, tail): --max-duration (or the action input) when
 * given, else the configuration's tail.maxDuration. The cutover has a budget of its own (see cutover.ts).
 */
export function sliceDurationMs(config: Config, options: CommandOptions): number {
  return options.maxDurationMs ?? config.tail.maxDurationMs;
}
