import * as core from '@actions/core';
import { COMMAND_NAMES, type CommandName } from '../commands/types.js';
import { parseDuration } from '../config/duration.js';
import { UserError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';

/**
 * Every input of action.yml is read and checked here, and nowhere else. A bad input is a UserError that names
 * the input and what it accepts. Defaults repeat action.yml's (a test keeps both equal) because the runner
 * fills them in but a process started by hand (a test, a local run) does not.
 */
export interface ActionInputs {
  command: CommandName;
  config: string;
  githubToken: string;
  comment: boolean;
  maxDurationMs: number | undefined;
  confirm: string | undefined;
  pullRequest: number | undefined;
  runWorkflow: string;
  cutoverWorkflow: string;
  abortWorkflow: string;
  logLevel: LogLevel;
  /** The CLI's flags, on par: --applications-stopped, --drop-destination, --force-takeover, --keep. */
  applicationsStopped: boolean;
  dropDestination: boolean;
  forceTakeover: boolean;
  keep: boolean;
}

export const INPUT_DEFAULTS = {
  config: 'migration.yaml',
  comment: 'true',
  'run-workflow': 'migration-run.yml',
  'cutover-workflow': 'migration-cutover.yml',
  'abort-workflow': 'migration-abort.yml',
  'log-level': 'info',
  'applications-stopped': 'false',
  'drop-destination': 'false',
  'force-takeover': 'false',
  keep: 'false',
} as const;

/** Reads one input; injectable so the checks can be tested without an environment. */
export type InputReader = (name: string) => string;

export const readActionInput: InputReader = (name) => core.getInput(name);

/** The token first, on its own: it must be masked before any other input can fail and print anything. */
export function readToken(read: InputReader = readActionInput): string {
  return read('github-token').trim();
}

export function readInputs(read: InputReader = readActionInput): ActionInputs {
  const get = (name: string): string => {
    const value = read(name).trim();
    return value || (INPUT_DEFAULTS as Record<string, string>)[name] || '';
  };
  const command = get('command');
  if (!command) throw bad('command', 'is required', `one of ${COMMAND_NAMES.join(', ')}`);
  if (!(COMMAND_NAMES as readonly string[]).includes(command)) throw bad('command', `"${command}" is not a command`, `one of ${COMMAND_NAMES.join(', ')}`);

  const maxDuration = get('max-duration');
  let maxDurationMs: number | undefined;
  if (maxDuration) {
    maxDurationMs = parseDuration(maxDuration);
    if (!maxDurationMs) throw bad('max-duration', `"${maxDuration}" is not a duration`, 'a duration such as 5h30m, 45m or 90s, longer than zero');
    // A hosted job dies at 6 hours: a slice that cannot save its position in time loses its progress.
    if (maxDurationMs > 6 * 3600 * 1000) throw bad('max-duration', `${maxDuration} is longer than a GitHub job may run (6h)`, 'at most 5h45m, leaving time to save the position');
  }

  const confirm = get('confirm') || undefined;
  if (command === 'cutover' && !confirm) throw bad('confirm', 'is required for cutover', "the migration's name, passed by the job that runs in the approved environment");

  const pr = get('pull-request');
  let pullRequest: number | undefined;
  if (pr) {
    pullRequest = Number(pr.replace(/^#/, ''));
    if (!Number.isSafeInteger(pullRequest) || pullRequest <= 0) throw bad('pull-request', `"${pr}" is not a pull request number`, 'a number such as 42');
  }

  const logLevel = get('log-level') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw bad('log-level', `"${logLevel}" is not a log level`, `one of ${LOG_LEVELS.join(', ')}`);

  return {
    command: command as CommandName,
    config: get('config'),
    githubToken: readToken(read),
    comment: booleanInput('comment', get('comment')),
    maxDurationMs,
    confirm,
    pullRequest,
    runWorkflow: workflowFile('run-workflow', get('run-workflow')),
    cutoverWorkflow: workflowFile('cutover-workflow', get('cutover-workflow')),
    abortWorkflow: workflowFile('abort-workflow', get('abort-workflow')),
    logLevel,
    applicationsStopped: booleanInput('applications-stopped', get('applications-stopped')),
    dropDestination: booleanInput('drop-destination', get('drop-destination')),
    forceTakeover: booleanInput('force-takeover', get('force-takeover')),
    keep: booleanInput('keep', get('keep')),
  };
}

function booleanInput(name: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw bad(name, `"${value}" is not a boolean`, 'true or false');
}

function workflowFile(name: string, value: string): string {
  // It ends up in a `gh workflow run` line of the comment: keep it to a plain file name.
  if (!/^[\w.-]+\.ya?ml$/.test(value)) throw bad(name, `"${value}" is not a workflow file name`, 'a file name such as migration-run.yml');
  return value;
}

function bad(input: string, problem: string, expected: string): UserError {
  return new UserError(`input "${input}" ${problem}: expected ${expected}`);
}
