import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand } from './cli-command.js';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Writes a migration.yaml whose URIs come from SOURCE_URI / DESTINATION_URI, and returns its path. */
export function writeConfigFile(name: string, databases: string[], extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlm-cfg-'));
  const file = join(dir, 'migration.yaml');
  const include = databases.map((db) => `"${db}.*"`).join(', ');
  writeFileSync(file, `version: 1\nname: ${name}\nsource: { uri: "\${SOURCE_URI}" }\ndestination: { uri: "\${DESTINATION_URI}" }\nnamespaces:\n  include: [${include}]\n${extra}`);
  return file;
}

/** Runs the CLI in a child process (a real runner that can be killed; see cliCommand). */
export function runChildCli(args: string[], env: Record<string, string>, onSpawn?: (pid: number) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliCommand(), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    if (child.pid) onSpawn?.(child.pid);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
