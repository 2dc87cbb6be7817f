import { parseDuration } from '../config/duration.js';
import { DEMO_DEFAULTS, runDemo } from '../demo/run-demo.js';
import { renderDemoSummary } from '../demo/summary.js';
import { EXIT } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { scrub } from '../redact.js';
import { colorsFor } from '../report/colors.js';
import { renderProgressLine } from '../report/text.js';
import type { CliIO } from './main.js';

/** The flags `demo` reads from the CLI's parsed arguments; it takes no --config (its migration is built in). */
export interface DemoCliValues {
  json?: boolean;
  'log-level'?: string;
  docs?: string;
  'max-duration'?: string;
  config?: string;
}

/** `mongo-live-migrate demo`: the terminal edge of src/demo. Returns the exit code. */
export async function runDemoCli(values: DemoCliValues, extra: string[], io: CliIO, reportError: (error: unknown, level: LogLevel) => number): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`error: ${message}\nRun mongo-live-migrate help demo for its options and examples.\n`);
    return EXIT.usage;
  };
  if (extra.length) return usage(`unexpected argument "${extra[0]}"`);
  if (values.config !== undefined) return usage('demo takes no --config: it builds its own migration between two local replica sets');
  // Quiet by default: the demo shows each step's outcome and a progress line; the engine's log is for debugging.
  const level = (values['log-level'] ?? io.env.MLM_LOG_LEVEL ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(level)) return usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const documents = values.docs === undefined ? DEMO_DEFAULTS.documents : Number(values.docs);
  if (!Number.isInteger(documents) || documents < 100 || documents > 10_000_000) return usage('--docs takes a whole number of documents between 100 and 10000000');
  const tailMs = values['max-duration'] === undefined ? DEMO_DEFAULTS.tailSeconds * 1000 : parseDuration(values['max-duration']);
  if (!tailMs || tailMs < 1000) return usage('--max-duration (the tail slice) takes a duration such as 15s or 1m');

  const json = Boolean(values.json);
  const tty = Boolean(io.stderr.isTTY) && !json;
  // A progress line drawn in place must be wiped before other text is printed over it.
  let lineOpen = false;
  const closeLine = (): void => {
    if (lineOpen) io.stderr.write('\r\x1b[2K');
    lineOpen = false;
  };
  const print = (text: string): void => {
    if (json) return;
    closeLine();
    io.stdout.write(scrub(text));
  };
  const log = createLogger({ level, pretty: Boolean(io.stderr.isTTY) && !json, destination: io.stderr });
  const colors = colorsFor(io.stderr, io.env);
  try {
    const summary = await runDemo(
      { documents, tailSeconds: tailMs / 1000, env: io.env },
      {
        print,
        progress: (progress) => {
          if (json) return;
          const line = scrub(renderProgressLine(progress, colors));
          if (tty) {
            io.stderr.write(`\r\x1b[2K${line}`);
            lineOpen = true;
          } else {
            io.stderr.write(`${line}\n`);
          }
        },
        log,
        signal: io.signal ?? new AbortController().signal,
      },
    );
    closeLine();
    io.stdout.write(scrub(json ? `${JSON.stringify(summary, null, 2)}\n` : renderDemoSummary(summary)));
    return summary.ok ? EXIT.ok : EXIT.failed;
  } catch (error) {
    closeLine();
    const code = reportError(error, level);
    // Interrupted: the demo has stopped its servers and removed their data; only the abandoned commands'
    // connection attempts (up to 30 s of server selection) would keep the process alive. Nothing is left to
    // wait for, so leave soon (unref: this timer alone never holds the process).
    if (io.signal?.aborted) setTimeout(() => process.exit(code), 1000).unref();
    return code;
  }
}
