import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { firstMissingPackage as untyped } from '../../scripts/deps-installed.mjs';

const firstMissingPackage = untyped as (root: string) => string | null;

// Issue 15: `npm run demo` (and npm test) re-ran `npm ci` after the user's own plain `npm ci`, because they
// trusted a stamp file only they wrote. They now look at node_modules itself.
describe('scripts/deps-installed.mjs', () => {
  const root = mkdtempSync(join(tmpdir(), 'mlm-deps-'));
  const install = (name: string, version: string): void => {
    mkdirSync(join(root, 'node_modules', name), { recursive: true });
    writeFileSync(join(root, 'node_modules', name, 'package.json'), JSON.stringify({ name, version }));
  };
  writeFileSync(join(root, 'package-lock.json'), JSON.stringify({ packages: { '': {}, 'node_modules/a': { version: '1.0.0' }, 'node_modules/@esbuild/darwin-arm64': { version: '0.1.0', optional: true } } }));

  it('asks for npm ci while a locked package is missing or at another version, not after any install', () => {
    expect(firstMissingPackage(root)).toBe('node_modules/a is missing');
    install('a', '0.9.0');
    expect(firstMissingPackage(root)).toBe('node_modules/a is 0.9.0, the lock says 1.0.0');
    install('a', '1.0.0'); // what a plain `npm ci` leaves: no stamp of ours, and nothing to redo
    expect(firstMissingPackage(root)).toBeNull();
  });

  it('holds for this checkout', () => {
    expect(firstMissingPackage('.')).toBeNull();
  });
});
