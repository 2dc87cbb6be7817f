import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../src/commands/types.js';
import { INPUT_DEFAULTS } from '../../src/action/inputs.js';
import { OUTPUT_NAMES } from '../../src/action/outputs.js';

/** The example workflows parse, and use only what action.yml declares; action.yml matches the code. */
interface ActionYml {
  inputs: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string };
}
interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, { inputs?: Record<string, unknown> } | null>;
  jobs: Record<string, { steps?: Step[]; environment?: string; permissions?: unknown }>;
}

const action = parse(readFileSync('action.yml', 'utf8')) as ActionYml;
const dir = 'examples/workflows';
const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
const isOurs = (step: Step): boolean => /mongo-live-migrate(@|$)/.test(step.uses ?? '');

describe('action.yml', () => {
  it('runs dist/index.js on node24 and declares the inputs and outputs the code reads and writes', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    for (const name of ['command', 'config', 'github-token', 'comment', 'max-duration', 'confirm', 'pull-request']) expect(action.inputs).toHaveProperty([name]);
    expect(Object.keys(action.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
    for (const [name, value] of Object.entries(INPUT_DEFAULTS)) expect(action.inputs[name]?.default, name).toBe(value);
    expect(action.inputs['github-token']?.default).toBe('${{ github.token }}');
    expect(action.inputs.command?.description).toContain(COMMAND_NAMES.join(', ').replace(/, (?=[^,]*$)/, ' or '));
  });
});

describe.each(files)('examples/workflows/%s', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');
  const workflow = parse(text) as Workflow;

  it('parses, has comments, and uses the action only with declared inputs', () => {
    expect(text).toMatch(/^# /m);
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps ?? []);
    const ours = steps.filter(isOurs);
    expect(ours.length).toBeGreaterThan(0);
    for (const step of ours) {
      for (const input of Object.keys(step.with ?? {})) expect(Object.keys(action.inputs), `${file}: input ${input}`).toContain(input);
      const command = String(step.with?.command ?? '');
      expect(command, `${file}: command is set`).not.toBe('');
      if (!command.includes('${{')) expect(COMMAND_NAMES as readonly string[]).toContain(command);
    }
  });

  it('reads only declared outputs of the action steps, and only declared workflow_dispatch inputs', () => {
    const ids = new Set(Object.values(workflow.jobs).flatMap((j) => j.steps ?? []).filter(isOurs).map((s) => s.id).filter(Boolean));
    for (const m of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      if (ids.has(m[1])) expect(OUTPUT_NAMES as readonly string[], `${file}: ${m[0]}`).toContain(m[2]);
    }
    const declared = Object.keys(workflow.on.workflow_dispatch?.inputs ?? {});
    expect(declared.length).toBeLessThanOrEqual(25);
    for (const m of text.matchAll(/\binputs\.([\w-]+)/g)) expect(declared, `${file}: ${m[0]}`).toContain(m[1]);
    // gh workflow run -f name=value must name declared inputs of the workflow it dispatches.
    for (const m of text.matchAll(/gh workflow run ([\w.-]+)([^\n]*)/g)) {
      const target = parse(readFileSync(join(dir, m[1]!), 'utf8')) as Workflow;
      const targetInputs = Object.keys(target.on.workflow_dispatch?.inputs ?? {});
      for (const f of m[2]!.matchAll(/-f ([\w-]+)=/g)) expect(targetInputs).toContain(f[1]);
    }
  });
});

describe('the example set', () => {
  const parsed = Object.fromEntries(files.map((f) => [f, parse(readFileSync(join(dir, f), 'utf8')) as Workflow & { concurrency?: { group: string } }]));
  it('covers the PR, run, cutover and rehearsal flows', () => {
    expect(parsed['migration-pr.yml']?.on).toHaveProperty('pull_request');
    const run = parsed['migration-run.yml'];
    expect(run?.on).toHaveProperty('workflow_dispatch');
    expect(run?.concurrency?.group).toContain('inputs.migration');
    expect(readFileSync(join(dir, 'migration-run.yml'), 'utf8')).toMatch(/MAX_GENERATIONS/);
    const cutover = parsed['migration-cutover.yml'];
    const job = Object.values(cutover?.jobs ?? {})[0];
    expect(job?.environment).toBeTruthy();
    expect(job?.steps?.find(isOurs)?.with).toHaveProperty('confirm');
    expect(parsed['migration-rehearsal.yml']?.on).toHaveProperty('schedule');
  });

  it('lets nothing cancel or starve a pending cutover, dispatches after a cancellation, and reviews destructive steps', () => {
    const group = (f: string): string | undefined => parsed[f]?.concurrency?.group;
    const cancel = (f: string): unknown => (parsed[f]?.concurrency as { 'cancel-in-progress'?: unknown } | undefined)?.['cancel-in-progress'];
    expect(group('migration-cutover.yml')).toBeTruthy();
    expect(group('migration-cutover.yml')).not.toBe(group('migration-run.yml'));
    for (const f of ['migration-run.yml', 'migration-cutover.yml', 'migration-abort.yml']) expect(cancel(f), f).toBe(false);
    const run = readFileSync(join(dir, 'migration-run.yml'), 'utf8');
    const dispatch = Object.values(parsed['migration-run.yml']!.jobs)[0]!.steps!.find((s) => (s as { name?: string }).name === 'dispatch the next slice') as { if?: string } | undefined;
    expect(dispatch?.if).toMatch(/^always\(\)/);
    expect(run).not.toMatch(/options: \[[^\]]*abort/); // abort is not offered without reviewers
    // The slice ends by its max-duration with room before the job's limit.
    const job = Object.values(parsed['migration-run.yml']!.jobs)[0] as { 'timeout-minutes'?: number; steps?: Step[] };
    const slice = String(job.steps?.find(isOurs)?.with?.['max-duration']);
    const [, h = '0', m = '0'] = /^(?:(\d+)h)?(?:(\d+)m)?$/.exec(slice) ?? [];
    expect((job['timeout-minutes'] ?? 360) - (Number(h) * 60 + Number(m))).toBeGreaterThanOrEqual(15);
    const abort = Object.values(parsed['migration-abort.yml']?.jobs ?? {})[0];
    expect(abort?.environment).toBe(Object.values(parsed['migration-cutover.yml']?.jobs ?? {})[0]?.environment);
    expect(abort?.steps?.find(isOurs)?.with).toHaveProperty('confirm');
  });
});
