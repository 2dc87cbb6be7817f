import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { EXIT, OperationError, UserError } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { scrub } from '../redact.js';
import { VERSION } from '../version.js';
import { hostname } from 'node:os';
import { commandImpl, isCommandName, type CommandOptions } from '../commands/index.js';
import { parseDuration } from '../config/duration.js';
import type { Progress } from '../report/model.js';
import { renderProgressLine, renderText } from '../report/text.js';
import { runDemoCli } from './demo.js';
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
  docs: { type: 'string' },
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
  // The demo builds its own migration (no --config): it has its own edge.
  if (name === 'demo') return runDemoCli(values, extra, io, (error, level) => reportError(error, (text) => print(io.stderr, text), level));
  if (!isCommandName(name)) {
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
  const maxDurationMs = values['max-duration'] === undefined ? undefined : parseDuration(values['max-duration']);
  if (maxDurationMs === 0 || (values['max-duration'] !== undefined && maxDurationMs === undefined)) {
    print(io.stderr, 'error: --max-duration takes a duration such as 45m, 2h or 90s\n');
    return EXIT.usage;
  }
  const log = createLogger({ level, pretty: Boolean(io.stderr.isTTY) && !values.json, destination: io.stderr });
  const options: CommandOptions = {
    confirm: values.confirm,
    maxDurationMs,
    dropDestination: values['drop-destination'],
    forceTakeover: values['force-takeover'],
    applicationsStopped: values['applications-stopped'],
    keep: values.keep,
  };
  const onProgress = (progress: Progress): void => {
    if (values.json) return;
    const line = renderProgressLine(progress);
    print(io.stderr, io.stderr.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  try {
    const impl = commandImpl(name);
    const config = loadConfigFile(values.config ?? 'migration.yaml', { env: io.env });
    const outcome = await impl(config, options, {
      log,
      signal: io.signal ?? new AbortController().signal,
      runner: `${hostname()}/${process.pid}`,
      onProgress,
    });
    if (io.stderr.isTTY && !values.json) print(io.stderr, '\n');
    print(io.stdout, values.json ? `${JSON.stringify(outcome, null, 2)}\n` : renderText(outcome));
    return outcome.exitCode;
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
