import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { updateReadme } from '../../scripts/action-reference.mjs';

describe('README', () => {
  it('carries the table of the action inputs and outputs generated from action.yml (npm run docs)', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toBe((updateReadme as (r: string, a: string) => string)(readme, readFileSync('action.yml', 'utf8')));
    for (const name of ['applications-stopped', 'drop-destination', 'force-takeover', 'keep', 'confirm', 'continue']) expect(readme).toContain(`| \`${name}\` |`);
  });
});
