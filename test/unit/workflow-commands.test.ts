import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { nextAction } from '../../src/report/markdown.js';
import type { CommandOutcome, Phase } from '../../src/model.js';
import { tailOutcome } from './report-fixtures.js';

/**
 * Every `gh workflow run` printed anywhere (the example workflows' own dispatches, and the next action of the
 * PR comment in every situation) is a command GitHub accepts: the workflow exists in examples/workflows, every
 * input it requires is passed, every input passed is declared, and a choice or boolean gets a valid value.
 */
interface DispatchInput {
  required?: boolean;
  type?: string;
  options?: string[];
}
const dir = 'examples/workflows';
const workflows = new Map(
  readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => {
      const on = (parse(readFileSync(join(dir, f), 'utf8')) as { on: { workflow_dispatch?: { inputs?: Record<string, DispatchInput> } | null } }).on;
      return [f, on.workflow_dispatch === undefined ? undefined : (on.workflow_dispatch?.inputs ?? {})] as const;
    }),
);

/** The `gh workflow run` commands in a text, one per match, up to the end of the line or a closing backtick. */
function ghCommands(text: string): string[] {
  return [...text.matchAll(/gh workflow run [^`\n]+/g)].map((m) => m[0].trim());
}

/** Problems of one command line; empty when GitHub would accept it. */
function problems(command: string): string[] {
  const words = command.match(/"[^"]*"|\S+/g) ?? [];
  const file = words[3] ?? '';
  const inputs = workflows.get(file);
  if (inputs === undefined) return [`${file} is not an example workflow with workflow_dispatch`];
  const passed = new Map<string, string>();
  for (let i = 4; i < words.length; i++) {
    if (words[i] === '--ref') i++;
    else if (words[i] === '-f' || words[i] === '-F') {
      const [name = '', ...rest] = (words[++i] ?? '').split('=');
      passed.set(name, rest.join('=').replace(/^"|"$/g, ''));
    } else return [`unexpected word ${words[i]}`];
  }
  const found: string[] = [];
  for (const [name, spec] of Object.entries(inputs)) if (spec.required && !passed.has(name)) found.push(`${file}: required input ${name} is missing`);
  for (const [name, value] of passed) {
    const spec = inputs[name];
    if (!spec) found.push(`${file}: ${name} is not an input`);
    else if (!value) found.push(`${file}: ${name} is empty`);
    else if (!value.startsWith('$') && spec.type === 'choice' && !spec.options?.includes(value)) found.push(`${file}: ${name}=${value} is not one of ${spec.options?.join(', ')}`);
    else if (!value.startsWith('$') && spec.type === 'boolean' && !['true', 'false'].includes(value)) found.push(`${file}: ${name}=${value} is not a boolean`);
  }
  return found;
}

describe('gh workflow run commands', () => {
  it('the checker refuses a command that lacks a required input (the old cutover line)', () => {
    expect(problems('gh workflow run migration-cutover.yml -f migration=m.yaml')).toEqual(['migration-cutover.yml: required input confirm is missing']);
    expect(problems('gh workflow run migration-run.yml -f migration=m.yaml -f command=abort')[0]).toContain('is not one of');
    expect(problems('gh workflow run nope.yml -f migration=m.yaml')[0]).toContain('not an example workflow');
  });

  const inWorkflows = [...workflows.keys()].flatMap((f) => ghCommands(readFileSync(join(dir, f), 'utf8')).map((c) => [f, c] as const));
  it.each(inWorkflows)('%s: %s', (_file, command) => {
    expect(problems(command)).toEqual([]);
  });

  it('every next action of the PR comment passes every required input', () => {
    const ctx = { migration: 'orders-to-atlas', next: { configPath: 'migrations/orders/migration.yaml', runWorkflow: 'migration-run.yml', cutoverWorkflow: 'migration-cutover.yml', abortWorkflow: 'migration-abort.yml' } };
    const base = tailOutcome();
    const at = (phase: Phase, over: Partial<CommandOutcome> = {}, ready = false): CommandOutcome => ({ ...base, ...over, progress: { ...base.progress!, phase, readyForCutover: ready } });
    const situations: CommandOutcome[] = [
      { command: 'validate', exitCode: 0, summary: 'ok' },
      { command: 'plan', exitCode: 0, summary: 'ok' },
      at('tailing', { continue: true }, true),
      at('tailing', { continue: false }, true),
      at('tailing', { continue: true }),
      at('tailing', { continue: false }),
      at('syncing', { command: 'sync', continue: true }),
      at('syncing', { command: 'sync', continue: false }),
      at('committed'),
      at('aborted'),
      at('failed', { exitCode: 1, summary: 'lost its position: re-sync' }),
      at('failed', { exitCode: 1, command: 'tail' }),
      at('cutting-over', { command: 'cutover', exitCode: 1 }),
      at('tailing', { command: 'cutover', exitCode: 1 }),
      at('tailing', { command: 'status', continue: false }),
    ];
    let seen = 0;
    for (const outcome of situations) {
      for (const command of ghCommands(nextAction(outcome, ctx))) {
        seen++;
        expect(problems(command), `${outcome.command}/${outcome.progress?.phase}: ${command}`).toEqual([]);
      }
    }
    expect(seen).toBeGreaterThanOrEqual(situations.length);
  });
});
