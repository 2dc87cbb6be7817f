import { describe, expect, it } from 'vitest';
import { readInputs } from '../../src/action/inputs.js';
import { computeOutputs } from '../../src/action/outputs.js';
import { UserError } from '../../src/errors.js';
import { tailOutcome } from './report-fixtures.js';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('readInputs', () => {
  it('applies the defaults of action.yml and parses every input', () => {
    expect(readInputs(reader({ command: 'tail', 'max-duration': '45m', 'github-token': ' t0k ', 'pull-request': '#42' }))).toEqual({
      command: 'tail',
      config: 'migration.yaml',
      githubToken: 't0k',
      comment: true,
      maxDurationMs: 45 * 60_000,
      confirm: undefined,
      pullRequest: 42,
      runWorkflow: 'migration-run.yml',
      cutoverWorkflow: 'migration-cutover.yml',
      abortWorkflow: 'migration-abort.yml',
      logLevel: 'info',
      applicationsStopped: false,
      dropDestination: false,
      forceTakeover: false,
      keep: false,
    });
  });

  it('has an input for each of the CLI flags', () => {
    const inputs = readInputs(reader({ command: 'abort', confirm: 'orders', 'drop-destination': 'true', 'force-takeover': 'true', 'applications-stopped': 'True', keep: 'true' }));
    expect(inputs).toMatchObject({ confirm: 'orders', dropDestination: true, forceTakeover: true, applicationsStopped: true, keep: true });
    expect(() => readInputs(reader({ command: 'abort', 'drop-destination': 'yes' }))).toThrow('input "drop-destination" "yes" is not a boolean');
  });

  it.each([
    [{}, 'input "command" is required'],
    [{ command: 'migrate' }, 'input "command" "migrate" is not a command: expected one of validate, plan, sync'],
    [{ command: 'tail', 'max-duration': 'forever' }, 'input "max-duration" "forever" is not a duration'],
    [{ command: 'tail', 'max-duration': '7h' }, 'longer than a GitHub job may run'],
    [{ command: 'tail', comment: 'yes' }, 'input "comment" "yes" is not a boolean: expected true or false'],
    [{ command: 'cutover' }, 'input "confirm" is required for cutover'],
    [{ command: 'status', 'pull-request': 'abc' }, 'input "pull-request" "abc" is not a pull request number'],
    [{ command: 'status', 'run-workflow': '../x; rm -rf' }, 'input "run-workflow"'],
    [{ command: 'status', 'log-level': 'loud' }, 'input "log-level" "loud" is not a log level'],
    [{ command: 'status', 'abort-workflow': 'a b.yml' }, 'input "abort-workflow"'],
  ])('%j is a clear UserError', (values, message) => {
    expect(() => readInputs(reader(values))).toThrow(UserError);
    expect(() => readInputs(reader(values))).toThrow(message);
  });
});

describe('computeOutputs', () => {
  it('continue stays true while ready and waiting for the cutover, and is false on failure', () => {
    const ready = tailOutcome();
    const extra = { migration: 'orders-to-atlas', reportPath: '/tmp/r.json', pullRequest: 42 };
    expect(computeOutputs({ ...ready, continue: true }, extra)).toMatchObject({ continue: 'true', 'ready-for-cutover': 'true', phase: 'tailing', 'lag-seconds': '1.4', 'documents-copied': '1380003', 'pull-request': '42' });
    const notReady = { ...ready, continue: true, progress: { ...ready.progress!, readyForCutover: false } };
    expect(computeOutputs(notReady, extra).continue).toBe('true');
    expect(computeOutputs({ ...notReady, exitCode: 1 }, extra).continue).toBe('false');
    expect(computeOutputs({ command: 'validate', exitCode: 0, summary: 'ok' }, { ...extra, pullRequest: undefined })).toMatchObject({ phase: '', 'lag-seconds': '', 'documents-copied': '', 'pull-request': '' });
  });
});
