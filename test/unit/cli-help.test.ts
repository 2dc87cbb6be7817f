import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

// Issue 15: a new user's first hour with the CLI. Every usage mistake: exit 2, one clear message, no stack,
// no Node parser text.
const NODE_PARSER_TEXT = /To specify a positional argument|ERR_PARSE_ARGS|\n\s+at /;

describe('cli help and usage mistakes', () => {
  it('has help per command, with its own options and examples, also as `help <command>`', async () => {
    const validate = await runCli(['validate', '--help']);
    const cutover = await runCli(['cutover', '--help']);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('Usage: mongo-live-migrate validate [options]');
    expect(validate.stdout).toContain('$ mongo-live-migrate validate --config migration.yaml');
    expect(validate.stdout).not.toContain('--confirm');
    expect(cutover.stdout).toContain('--confirm <name>');
    expect(cutover.stdout).toContain('$ mongo-live-migrate cutover --config migration.yaml --confirm orders-to-atlas');
    expect(cutover.stdout).not.toBe(validate.stdout);
    expect((await runCli(['help', 'cutover'])).stdout).toBe(cutover.stdout);
    const general = await runCli(['help']);
    expect(general.code).toBe(0);
    expect(general.stdout).toContain('Commands:');
    const mistyped = await runCli(['help', 'cutovr']);
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toContain("error: unknown command 'cutovr'\n(Did you mean cutover?)");
  });

  it('documents --max-duration the same way for sync and tail, and MLM_LOG_LEVEL', async () => {
    for (const command of ['sync', 'tail']) {
      const help = (await runCli(['help', command])).stdout.replace(/\s+/g, ' ');
      expect(help, command).toContain('--max-duration <duration> sync and tail: how long this run lasts; it then saves its position and exits');
      expect(help, command).toContain('$MLM_LOG_LEVEL');
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/MLM_LOG_LEVEL\s+default for --log-level/);
    expect(top.stdout).toMatch(/NO_COLOR, FORCE_COLOR/);
    expect(top.stdout).toContain('help <command>');
  });

  it('suggests the command or option meant', async () => {
    const command = await runCli(['valdate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("error: unknown command 'valdate'\n(Did you mean validate?)");
    const option = await runCli(['validate', '--jsn']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("error: unknown option '--jsn'\n(Did you mean --json?)");
    expect(option.stderr).toContain('Run mongo-live-migrate help validate for its options and examples.');
  });

  it('refuses an option that belongs to another command, and says where it belongs', async () => {
    const result = await runCli(['validate', '--confirm', 'orders-to-atlas']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: option '--confirm' does not apply to validate; it is an option of cutover, abort");
    expect((await runCli(['status', '--max-duration', '5m'])).stderr).toContain("option '--max-duration' does not apply to status; it is an option of sync, tail, cutover, rehearse, demo");
    expect((await runCli(['demo', '--config', 'x.yaml'])).stderr).toContain('demo takes no --config');
  });

  it('exits 2 with a clear message and no parser text for every misuse', async () => {
    for (const argv of [[], ['valdate'], ['validate', '--no-such-flag'], ['validate', '-x'], ['validate', 'extra'], ['validate', '--config'], ['validate', '--log-level', 'loud'], ['tail', '--max-duration', '5x'], ['cutover', '--keep']]) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(/error: |Usage: /);
      expect(result.stderr, argv.join(' ')).not.toMatch(NODE_PARSER_TEXT);
      expect(result.stdout, argv.join(' ')).toBe('');
    }
    const env = await runCli(['validate', '--config', 'examples/migration.yaml'], { MLM_LOG_LEVEL: 'loud' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('error: MLM_LOG_LEVEL must be one of');
  });
});

describe('cli configuration errors', () => {
  it('a directory as --config: exit 2, one located line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlm-cli-dir-'));
    const result = await runCli(['validate', '--config', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir}:1:1: this is a directory; --config takes a migration file`);
    expect(result.stderr).not.toMatch(/EISDIR|\n\s+at /);
  });

  it('--json prints the configuration error as one JSON object on stdout', async () => {
    const result = await runCli(['validate', '--config', 'test/fixtures/configs/broken.yaml', '--json']);
    expect(result.code).toBe(2);
    const body = JSON.parse(result.stdout) as { command: string; exitCode: number; error: { kind: string; problems: { file: string; line: number; column: number; message: string }[] } };
    expect(body).toMatchObject({ command: 'validate', exitCode: 2, error: { kind: 'configuration' } });
    expect(body.error.problems.length).toBeGreaterThan(1);
    expect(body.error.problems[0]).toMatchObject({ file: 'test/fixtures/configs/broken.yaml', line: expect.any(Number) as number, column: expect.any(Number) as number });
    // The human text still goes to stderr.
    expect(result.stderr).toMatch(/^test\/fixtures\/configs\/broken\.yaml:\d+:\d+: /m);
  });
});

describe('cli usage errors with --json', () => {
  it('print a JSON error object on stdout too', async () => {
    for (const [argv, message] of [
      [['validate', '--json', '--confirm', 'x'], "option '--confirm' does not apply to validate; it is an option of cutover, abort"],
      [['tail', '--json', '--max-duration', '5x'], '--max-duration takes a duration such as 45m, 2h or 90s'],
    ] as const) {
      const result = await runCli([...argv], { FORCE_COLOR: '1' });
      expect(result.code).toBe(2);
      expect(JSON.parse(result.stdout)).toEqual({ command: argv[0], exitCode: 2, error: { kind: 'usage', message } });
    }
  });
});

describe('cli colour', () => {
  const ESC = '\x1b[';
  it('is off when not a terminal, on with FORCE_COLOR, and NO_COLOR wins', async () => {
    const argv = ['validate', '--config', 'test/fixtures/configs/broken.yaml'];
    expect((await runCli(argv)).stderr).not.toContain(ESC);
    expect((await runCli(argv, { FORCE_COLOR: '1' })).stderr).toContain(`${ESC}31m`);
    expect((await runCli(argv, { FORCE_COLOR: '1', NO_COLOR: '1' })).stderr).not.toContain(ESC);
    expect((await runCli(argv, { FORCE_COLOR: '0' })).stderr).not.toContain(ESC);
    expect((await runCli(['help', 'validate'], { FORCE_COLOR: '1' })).stdout).toContain(`${ESC}1mUsage:`);
  });
});
