// Whether node_modules holds what package-lock.json pins: every package the lock lists (optional,
// platform-specific ones excepted) present at its locked version. `npm test` and `npm run demo` run `npm ci`
// only when this says no, so a user's own `npm ci` (or npm install) is never repeated.
// `node scripts/deps-installed.mjs` exits 0 when installed, 1 (naming the first gap) when not.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first package that is missing or at another version than the lock's, or null when all match. */
export function firstMissingPackage(root) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (!path.startsWith('node_modules/') || entry.optional || entry.link) continue;
    const manifest = join(root, path, 'package.json');
    if (!existsSync(manifest)) return `${path} is missing`;
    const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
    if (entry.version && version !== entry.version) return `${path} is ${version}, the lock says ${entry.version}`;
  }
  return null;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const gap = firstMissingPackage(join(dirname(fileURLToPath(import.meta.url)), '..'));
  if (gap) console.error(`node_modules does not match package-lock.json: ${gap}`);
  process.exit(gap ? 1 : 0);
}
