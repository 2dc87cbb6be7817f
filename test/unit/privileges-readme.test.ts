import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderPrivileges } from '../support/privileges-table.js';

describe('README privileges', () => {
  it('lists exactly the roles of required-privileges.ts', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /<!-- privileges:start[^>]*-->\n([\s\S]*?)\n<!-- privileges:end -->/.exec(readme)?.[1];
    expect(block, 'README.md has no privileges block').toBeDefined();
    expect(block).toBe(renderPrivileges());
  });
});
