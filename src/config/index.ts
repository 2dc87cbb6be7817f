export { loadConfigFile, parseConfig, MAX_CONFIG_BYTES } from './load.js';
export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { parseDuration } from './duration.js';
export { migrationSchema } from './schema-validator.js';
export type * from './types.js';
