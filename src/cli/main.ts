import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { EXIT, OperationError, UserError } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { scrub } from '../redact.js';
import { VERSION } from '../version.js';
import { findCommand } from './commands/index.js';
import type { CliFlags, Output } from './context.js';
import { usage } from './help.js';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT / SIGTERM by the process entry point. */
  signal?: AbortSignal;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  'log-level': { type: 'string' },
  confirm: { type: 'string' },
  'max-duration': { type: 'string' },
  'drop-destination': { type: 'boolean', default: false },
  'force-takeover': { type: 'boolean', default: false },
  'applications-stopped': { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false },
} as const;

/** Runs one CLI invocation and returns its exit code. Never throws; never prints a secret. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const print = (stream: NodeJS.WritableStream, text: string): void => {
    stream.write(scrub(text));
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    print(io.stderr, `error: ${(error as Error).message}\nRun mongo-live-migrate --help for the commands and options.\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    print(io.stdout, `${VERSION}\n`);
    return EXIT.ok;
  }
  const [name, ...extra] = positionals;
  if (values.help || !name) {
    print(values.help ? io.stdout : io.stderr, usage(VERSION));
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const command = findCommand(name);
  if (!command) {
    print(io.stderr, `error: unknown command "${name}"\nRun mongo-live-migrate --help for the commands.\n`);
    return EXIT.usage;
  }
  if (extra.length) {
    print(io.stderr, `error: unexpected argument "${extra[0]}"\n`);
    return EXIT.usage;
  }
  const level = (values['log-level'] ?? io.env.MLM_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    print(io.stderr, `error: --log-level must be one of ${LOG_LEVELS.join(', ')}\n`);
    return EXIT.usage;
  }
  const log = createLogger({ level, pretty: Boolean(io.stderr.isTTY) && !values.json, destination: io.stderr });
  const out: Output = {
    write: (text) => print(io.stdout, text),
    isTTY: Boolean(io.stdout.isTTY),
    progress: (text) => print(io.stderr, io.stderr.isTTY ? `\r\x1b[2K${text}` : `${text}\n`),
  };
  const flags: CliFlags = {
    json: values.json,
    confirm: values.confirm,
    maxDuration: values['max-duration'],
    dropDestination: values['drop-destination'],
    forceTakeover: values['force-takeover'],
    applicationsStopped: values['applications-stopped'],
    keep: values.keep,
  };
  try {
    const configPath = values.config ?? 'migration.yaml';
    const config = command.needsConfig === false ? undefined : loadConfigFile(configPath, { env: io.env });
    return await command.run({ config: config!, flags, log, out, signal: io.signal ?? new AbortController().signal });
  } catch (error) {
    return reportError(error, (text) => print(io.stderr, text), level);
  }
}

function reportError(error: unknown, print: (text: string) => void, level: LogLevel): number {
  if (error instanceof ConfigError) {
    print(`${error.message}\n${error.problems.length} problem${error.problems.length === 1 ? '' : 's'} in the configuration.\n`);
    return EXIT.usage;
  }
  if (error instanceof UserError || error instanceof OperationError) {
    print(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
    return error.exitCode;
  }
  // Not a user mistake: a bug or an unexpected server answer. The stack only at debug level.
  const err = error instanceof Error ? error : new Error(String(error));
  const detail = level === 'debug' || level === 'trace' ? `\n${err.stack ?? ''}` : '\n(run again with --log-level debug for the stack trace)';
  print(`error: ${err.message}${detail}\n`);
  return EXIT.failed;
}

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
