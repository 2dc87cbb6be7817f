import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** dist/ is committed (GitHub runs it as is): it must be exactly what the sources build. */
describe('dist/', () => {
  const out = mkdtempSync(join(tmpdir(), 'mlm-dist-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is what `npm run build` makes of the sources (run it and commit dist/ when this fails)', () => {
    execFileSync(process.execPath, ['scripts/bundle.mjs', out], { stdio: 'pipe' });
    for (const file of ['index.js', 'cli.js']) {
      const built = readFileSync(join(out, file));
      const committed = readFileSync(join('dist', file));
      expect(committed.equals(built), `dist/${file} is stale: run npm run build`).toBe(true);
    }
  }, 120_000);
});
