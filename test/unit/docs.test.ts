import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { updateReadme } from '../../scripts/config-reference.mjs';

describe('README', () => {
  it('carries the configuration reference generated from the schema (npm run docs)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const schema: unknown = JSON.parse(readFileSync('schemas/migration.schema.json', 'utf8'));
    expect(readme).toBe((updateReadme as (r: string, s: unknown) => string)(readme, schema));
  });

  it('gives the test command that .ci/run calls', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('npm test ');
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test$/m);
  });
});
