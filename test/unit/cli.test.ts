import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const canary = 'Canary-Pa55word-7f3a';
// Port 1 on loopback refuses at once: the commands fail fast, and their failure output must not leak.
const env = { SOURCE_URI: `mongodb://migrator:${canary}@127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=1500`, DESTINATION_URI: `mongodb://migrator:${canary}@127.0.0.1:1/?serverSelectionTimeoutMS=1500` };

describe('cli', () => {
  it('prints help and version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['validate', 'plan', 'sync', 'tail', 'cutover', 'verify', 'status', 'abort']) expect(help.stdout).toContain(`  ${command}`);
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 with one clear line for usage mistakes', async () => {
    for (const argv of [[], ['frobnicate'], ['validate', '--no-such-flag'], ['validate', 'extra'], ['validate', '--log-level', 'loud']]) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 2 with located errors and no stack trace for a broken config', async () => {
    const result = await runCli(['validate', '--config', 'test/fixtures/configs/broken.yaml'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^test\/fixtures\/configs\/broken\.yaml:\d+:\d+: /m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('never prints a password, whatever the log level or command', async () => {
    for (const [command, level, json] of [['validate', 'trace', '--json'], ['validate', 'info', ''], ['status', 'trace', ''], ['sync', 'debug', '--json']] as const) {
      const argv = [command, '--config', 'examples/migration.yaml', '--log-level', level, ...(json ? [json] : [])];
      const result = await runCli(argv, env);
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.stdout + result.stderr).toMatch(/refused|unreachable|cannot connect|connection/i);
      expect(result.stdout + result.stderr).not.toContain(canary);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
