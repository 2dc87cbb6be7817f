import type { CommandImpl } from './types.js';

/** Placeholder until the pre-migration checks land: the configuration itself was loaded and is valid. */
export const runValidate: CommandImpl = async (config) => ({
  command: 'validate',
  exitCode: 0,
  summary: `configuration of migration "${config.name}" is valid`,
  checks: [{ id: 'config.schema', title: 'Configuration', status: 'pass', message: `${config.file} is valid` }],
});
