import { Command, CommanderError, Option } from 'commander';
import { commandSpecs } from '../commands/index.js';
import type { CommandName } from '../commands/types.js';
import picocolors from 'picocolors';

/**
 * The CLI's grammar, declared with commander: one subcommand per command with only the options that apply
 * to it, per-command help with examples, `help <command>`, "did you mean" for mistyped commands and options.
 * Parsing only: the chosen command and its raw option values come back to main.ts, which runs it.
 */

/** The raw option values of one invocation (strings as typed: main.ts checks and converts them). */
export interface ParsedOptions {
  config?: string;
  json?: boolean;
  logLevel?: string;
  confirm?: string;
  maxDuration?: string;
  dropDestination?: boolean;
  forceTakeover?: boolean;
  applicationsStopped?: boolean;
  keep?: boolean;
  docs?: string;
}

export type Invocation = { kind: 'run'; command: CommandName | 'demo'; options: ParsedOptions } | { kind: 'exit'; code: number };

type OptionKey = 'config' | 'json' | 'logLevel' | 'confirm' | 'maxDuration' | 'dropDestination' | 'forceTakeover' | 'applicationsStopped' | 'keep' | 'docs';

const OPTION_FLAGS: Record<OptionKey, string> = {
  config: '-c, --config <file>',
  json: '--json',
  logLevel: '--log-level <level>',
  confirm: '--confirm <name>',
  maxDuration: '--max-duration <duration>',
  dropDestination: '--drop-destination',
  forceTakeover: '--force-takeover',
  applicationsStopped: '--applications-stopped',
  keep: '--keep',
  docs: '--docs <n>',
};

const COMMON_HELP: Partial<Record<OptionKey, string>> = {
  config: 'the migration file (default: migration.yaml)',
  json: 'print the result as JSON on stdout (errors too)',
  logLevel: 'trace, debug, info, warn, error, fatal or silent (default: info, or $MLM_LOG_LEVEL)',
  forceTakeover: 'take the migration over from a runner whose lease has not expired yet',
};

interface CommandGrammar {
  /** Options beyond --config, --json and --log-level, with this command's own description of each. */
  options: Partial<Record<OptionKey, string>>;
  examples: string[];
  /** demo builds its own migration: no --config. */
  noConfig?: boolean;
}

const MAX_DURATION_SLICE = 'sync and tail: how long this run lasts; it then saves its position and exits, and the next run continues (e.g. 45m, 2h, 90s)';

const GRAMMAR: Record<CommandName | 'demo', CommandGrammar> = {
  validate: {
    options: {},
    examples: ['mongo-live-migrate validate --config migration.yaml', 'mongo-live-migrate validate -c migrations/orders.yaml --json > validation.json'],
  },
  plan: { options: {}, examples: ['mongo-live-migrate plan --config migration.yaml'] },
  sync: {
    options: { maxDuration: `${MAX_DURATION_SLICE}; default: tail.maxDuration of the config (5h30m)`, forceTakeover: COMMON_HELP.forceTakeover },
    examples: ['mongo-live-migrate sync --config migration.yaml', 'mongo-live-migrate sync --config migration.yaml --max-duration 5h30m   # one GitHub job; run it again to resume'],
  },
  tail: {
    options: { maxDuration: `${MAX_DURATION_SLICE}; default: tail.maxDuration of the config (5h30m)`, forceTakeover: COMMON_HELP.forceTakeover },
    examples: ['mongo-live-migrate tail --config migration.yaml --max-duration 45m', 'MLM_LOG_LEVEL=debug mongo-live-migrate tail --config migration.yaml'],
  },
  cutover: {
    options: {
      confirm: 'the migration\'s name, typed to confirm that source writes may be blocked (required)',
      maxDuration: 'how long the cutover waits for the lag to hold before it gives up with nothing blocked (default: 15m)',
      applicationsStopped: 'with cutover.writeBlock: none, you state that the applications are stopped',
      forceTakeover: COMMON_HELP.forceTakeover,
    },
    examples: ['mongo-live-migrate cutover --config migration.yaml --confirm orders-to-atlas'],
  },
  verify: { options: {}, examples: ['mongo-live-migrate verify --config migration.yaml', 'mongo-live-migrate verify --config migration.yaml --json > verification.json'] },
  status: { options: {}, examples: ['mongo-live-migrate status --config migration.yaml'] },
  abort: {
    options: {
      confirm: 'the migration\'s name: required with --drop-destination and to abort a committed migration',
      dropDestination: 'also remove what the migration created on the destination (and nothing else)',
      forceTakeover: COMMON_HELP.forceTakeover,
    },
    examples: ['mongo-live-migrate abort --config migration.yaml', 'mongo-live-migrate abort --config migration.yaml --drop-destination --confirm orders-to-atlas'],
  },
  rehearse: {
    options: { maxDuration: 'how long the rehearsal tails before it freezes at a source time T (default: 1m)', keep: 'keep the staging destination afterwards', forceTakeover: COMMON_HELP.forceTakeover },
    examples: ['mongo-live-migrate rehearse --config staging.yaml --max-duration 10m'],
  },
  demo: {
    noConfig: true,
    options: { docs: 'documents to seed, 100 to 10000000 (default: 120000)', maxDuration: 'the tail slice (default: 12s)' },
    examples: ['mongo-live-migrate demo', 'mongo-live-migrate demo --docs 20000 --json'],
  },
};

const DEMO_SUMMARY = 'a whole migration between two local replica sets, with a live writer (no --config)';

const ENVIRONMENT = `Environment:
  SOURCE_URI, DESTINATION_URI  connection strings, as migration.yaml references them (\${SOURCE_URI})
  MLM_LOG_LEVEL                default for --log-level
  NO_COLOR, FORCE_COLOR        turn colour off or on (default: on in a terminal)

Exit codes: 0 success, 1 an operation or a check failed, 2 usage or configuration error.`;

export interface ProgramIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  /** Whether stdout and stderr take colour (see colorEnabled). */
  outColor: boolean;
  errColor: boolean;
}

/** Parses argv. Help, --version and every usage mistake are handled here (printed, with an exit code). */
export function parseInvocation(argv: string[], version: string, io: ProgramIO): Invocation {
  let chosen: Invocation | undefined;
  let current: string | undefined;
  const program = buildProgram(version, io, () => current, (command, options) => (chosen = { kind: 'run', command, options }));
  program.hook('preSubcommand', (_program, sub) => {
    current = sub.name();
  });
  // `help <command>` as `<command> --help`: the same text, and a mistyped name gets commander's "did you mean"
  // instead of the general help.
  const topic = argv[0] === 'help' && argv.length === 2 ? argv[1]! : undefined;
  const args = topic === undefined ? argv : Object.hasOwn(GRAMMAR, topic) ? [topic, '--help'] : [topic];
  try {
    program.parse(args, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version asked for exit 0 (commander's exitCode 0); help shown because of a mistake (no
    // command) and every parse error exit 2 (usage), never commander's 1, which means "an operation failed" here.
    return { kind: 'exit', code: error.exitCode === 0 ? 0 : 2 };
  }
  return chosen ?? { kind: 'exit', code: 2 };
}

function buildProgram(version: string, io: ProgramIO, currentCommand: () => string | undefined, onRun: (command: CommandName | 'demo', options: ParsedOptions) => void): Command {
  // Help is styled always and commander strips the styles from a stream that takes no colour.
  const c = picocolors.createColors(true);
  const err = picocolors.createColors(io.errColor);
  // Output settings first: subcommands copy them when they are added.
  const program = new Command('mongo-live-migrate')
    .configureOutput({
      writeOut: io.writeOut,
      writeErr: io.writeErr,
      getOutHasColors: () => io.outColor,
      getErrHasColors: () => io.errColor,
      outputError: (text, write) => write(paintFirstLine(explainMisplacedOption(text, currentCommand()), err.red)),
    })
    .description('Live-migrate a MongoDB replica set to another, driven by migration.yaml.')
    .usage('<command> [options]')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: mongo-live-migrate help <command>)')
    .helpCommand('help [command]', 'show the help of a command, with examples')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ styleTitle: (title) => paintFirstLine(title, c.bold), styleSubcommandText: (text) => c.cyan(text), showGlobalOptions: false, sortSubcommands: false })
    .addHelpText('after', `\nRun mongo-live-migrate help <command> for its options and examples.\n\n${ENVIRONMENT}`);

  const specs = [...commandSpecs().map((s) => ({ name: s.name as CommandName | 'demo', summary: s.impl ? s.summary : `${s.summary} (not built yet)` })), { name: 'demo' as const, summary: DEMO_SUMMARY }];
  for (const spec of specs) {
    const grammar = GRAMMAR[spec.name];
    const cmd = program
      .command(spec.name)
      .description(spec.summary)
      .allowExcessArguments(false)
      .showHelpAfterError(err.dim(`Run mongo-live-migrate help ${spec.name} for its options and examples.`));
    if (!grammar.noConfig) cmd.addOption(new Option(OPTION_FLAGS.config, COMMON_HELP.config));
    cmd.addOption(new Option(OPTION_FLAGS.json, COMMON_HELP.json));
    cmd.addOption(new Option(OPTION_FLAGS.logLevel, spec.name === 'demo' ? 'trace, debug, info, warn, error, fatal or silent (default: warn, or $MLM_LOG_LEVEL)' : COMMON_HELP.logLevel));
    for (const [key, help] of Object.entries(grammar.options) as [OptionKey, string][]) cmd.addOption(new Option(OPTION_FLAGS[key], help));
    cmd.addHelpText('after', `\nExamples:\n${grammar.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    cmd.action((options: ParsedOptions) => onRun(spec.name, options));
  }
  return program;
}

/**
 * commander calls an option that exists, but on another command, "unknown": say instead that it does not
 * apply here, and where it does.
 */
export function explainMisplacedOption(text: string, command: string | undefined): string {
  const match = /^error: unknown option '(--?[^'=]+)(=[^']*)?'/.exec(text);
  if (!match || !command) return text;
  const flag = match[1]!;
  if (command === 'demo' && (flag === '-c' || flag === '--config')) return 'error: demo takes no --config: it builds its own migration between two local replica sets\n';
  const owners = (Object.entries(GRAMMAR) as [CommandName | 'demo', CommandGrammar][])
    .filter(([name, g]) => name !== command && optionKeysOf(g).some((key) => OPTION_FLAGS[key].split(/[ ,]+/).includes(flag)))
    .map(([name]) => name);
  if (!owners.length) return text;
  return `error: option '${flag}' does not apply to ${command}; it is an option of ${owners.join(', ')}\n`;
}

function optionKeysOf(grammar: CommandGrammar): OptionKey[] {
  return [...(grammar.noConfig ? [] : (['config'] as OptionKey[])), ...(Object.keys(grammar.options) as OptionKey[])];
}

/** Colours the first line only, leaving its line break (and any suggestion under it) uncoloured, so a terminal
 * never carries the colour into the next prompt. */
function paintFirstLine(text: string, paint: (s: string) => string): string {
  const match = /^([^\n]*?)(\s*\n[\s\S]*|\s*)$/.exec(text);
  return match ? `${paint(match[1]!)}${match[2]!}` : paint(text);
}
