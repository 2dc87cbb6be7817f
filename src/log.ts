import { Writable } from 'node:stream';
import pino, { type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { scrub } from './redact.js';

export type { Logger };
export type LogLevel = LevelWithSilent;
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable lines (a terminal); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; stderr by default so stdout stays free for `--json` output. */
  destination?: NodeJS.WritableStream;
}

/** Every line passes through `scrub` on its way out, so no field, message or stack can carry a secret. */
function scrubbing(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      target.write(scrub(chunk.toString()));
      callback();
    },
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const target = options.destination ?? process.stderr;
  const level = options.level ?? 'info';
  if (options.pretty) {
    // pino-pretty as a stream, not a worker transport: worker transports cannot be bundled into dist/.
    const stream = pretty({ sync: true, destination: scrubbing(target), ignore: 'pid,hostname', translateTime: 'HH:MM:ss' });
    return pino({ level }, stream);
  }
  return pino({ level, base: undefined }, scrubbing(target));
}

/** A logger that drops everything, for code paths (and tests) that need one but print nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
