import { loadConfigFile } from '../config/index.js';
import { EXIT, classifyError } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { scrub } from '../redact.js';
import { VERSION } from '../version.js';
import { hostname } from 'node:os';
import { commandImpl, settingsFromEnvironment, type CommandOptions } from '../commands/index.js';
import { parseDuration } from '../config/duration.js';
import type { Progress } from '../model.js';
import { renderProgressLine, renderText } from '../report/text.js';
import { plural } from '../format.js';
import { colorEnabled, colorsFor } from '../report/colors.js';
import { runDemoCli } from './demo.js';
import { parseInvocation } from './program.js';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT / SIGTERM by the process entry point. */
  signal?: AbortSignal;
}

/** Runs one CLI invocation and returns its exit code. Never throws; never prints a secret. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const print = (stream: NodeJS.WritableStream, text: string): void => {
    stream.write(scrub(text));
  };
  const colors = { out: colorsFor(io.stdout, io.env), err: colorsFor(io.stderr, io.env) };
  // A script that asked for --json reads stdout: a usage mistake reaches it as a JSON error too.
  const wantsJson = argv.includes('--json');
  const usageJson = (command: string, message: string): void => {
    if (wantsJson) print(io.stdout, `${JSON.stringify({ command, exitCode: EXIT.usage, error: { kind: 'usage', message: message.replace(/^error: /, '') } }, null, 2)}\n`);
  };
  let parseErrors = '';
  const invocation = parseInvocation(argv, VERSION, {
    writeOut: (t) => print(io.stdout, t),
    writeErr: (t) => {
      parseErrors += t;
      print(io.stderr, t);
    },
    outColor: colorEnabled(io.stdout, io.env),
    errColor: colorEnabled(io.stderr, io.env),
  });
  if (invocation.kind === 'exit') {
    // eslint-disable-next-line no-control-regex -- the message may carry colour codes; JSON gets plain text
    if (invocation.code !== EXIT.ok) usageJson(argv.find((a) => !a.startsWith('-')) ?? '', (/error: [^\n]*/.exec(parseErrors)?.[0] ?? 'usage error').replace(/\x1b\[[0-9;]*m/g, ''));
    return invocation.code;
  }
  const { command: name, options: values } = invocation;
  const json = Boolean(values.json);
  const usageError = (message: string): number => {
    print(io.stderr, `${colors.err.red(`error: ${message}`)}\n${colors.err.dim(`Run mongo-live-migrate help ${name} for its options and examples.`)}\n`);
    usageJson(name, `error: ${message}`);
    return EXIT.usage;
  };
  // The demo builds its own migration (no --config): it has its own edge.
  if (name === 'demo') {
    const demoValues = { json, 'log-level': values.logLevel, docs: values.docs, 'max-duration': values.maxDuration };
    return runDemoCli(demoValues, [], io, (error, level) => reportError(error, { io, print, json, command: name, level }));
  }
  const level = (values.logLevel ?? io.env.MLM_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    return usageError(`${values.logLevel === undefined ? 'MLM_LOG_LEVEL' : '--log-level'} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const maxDurationMs = values.maxDuration === undefined ? undefined : parseDuration(values.maxDuration);
  if (maxDurationMs === 0 || (values.maxDuration !== undefined && maxDurationMs === undefined)) {
    return usageError('--max-duration takes a duration such as 45m, 2h or 90s');
  }
  const log = createLogger({ level, pretty: Boolean(io.stderr.isTTY) && !json, destination: io.stderr });
  const options: CommandOptions = {
    confirm: values.confirm,
    maxDurationMs,
    dropDestination: values.dropDestination,
    forceTakeover: values.forceTakeover,
    applicationsStopped: values.applicationsStopped,
    keep: values.keep,
  };
  const onProgress = (progress: Progress): void => {
    if (json) return;
    const line = renderProgressLine(progress, colors.err);
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
      settings: settingsFromEnvironment(io.env),
    });
    if (io.stderr.isTTY && !json) print(io.stderr, '\n');
    print(io.stdout, json ? `${JSON.stringify(outcome, null, 2)}\n` : renderText(outcome, { colors: colors.out }));
    return outcome.exitCode;
  } catch (error) {
    return reportError(error, { io, print, json, command: name, level });
  }
}

interface ErrorContext {
  io: CliIO;
  print: (stream: NodeJS.WritableStream, text: string) => void;
  json: boolean;
  command: string;
  level: LogLevel;
}

/**
 * Prints an error for a human on stderr and, with --json, as one JSON object on stdout (so a script that
 * reads stdout always gets JSON). User mistakes and failed operations never print a stack trace.
 */
function reportError(error: unknown, { io, print, json, command, level }: ErrorContext): number {
  const red = colorsFor(io.stderr, io.env).red;
  const asJson = (exitCode: number, body: Record<string, unknown>): void => {
    if (json) print(io.stdout, `${JSON.stringify({ command, exitCode, error: body }, null, 2)}\n`);
  };
  const classified = classifyError(error);
  switch (classified.kind) {
    case 'configuration': {
      const count = classified.problems.length;
      print(io.stderr, `${red(classified.message)}\n${plural(count, 'problem')} in the configuration.\n`);
      asJson(classified.exitCode, { kind: 'configuration', message: `${plural(count, 'problem')} in the configuration`, problems: classified.problems });
      break;
    }
    case 'usage':
    case 'operation':
      print(io.stderr, `${red(`error: ${classified.message}`)}\n${classified.hint ? `hint: ${classified.hint}\n` : ''}`);
      asJson(classified.exitCode, { kind: classified.kind, message: classified.message, ...(classified.hint ? { hint: classified.hint } : {}) });
      break;
    case 'unexpected': {
      // Not a user mistake: a bug or an unexpected server answer. The stack only at debug level.
      const err = classified.error;
      const detail = level === 'debug' || level === 'trace' ? `\n${err.stack ?? ''}` : '\n(run again with --log-level debug for the stack trace)';
      print(io.stderr, `${red(`error: ${err.message}`)}${detail}\n`);
      asJson(classified.exitCode, { kind: 'unexpected', message: err.message });
      break;
    }
  }
  return classified.exitCode;
}

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
