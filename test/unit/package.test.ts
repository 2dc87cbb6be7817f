import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Issue 15: the README's install must work. `npm pack` the project, install the tarball into an empty
// directory (offline: dist/cli.js is one bundle, the package has no runtime dependencies to fetch), then run
// the installed bin as a user would.
describe('the npm package', () => {
  const work = mkdtempSync(join(tmpdir(), 'mlm-pack-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const npm = (args: string[], cwd: string): string =>
    execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });

  it('packs bin, the bundled CLI and the schema, and nothing it does not need', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { private?: boolean; dependencies?: object; bin: Record<string, string> };
    expect(pkg.private).toBeUndefined();
    // Everything the CLI runs is inside dist/cli.js: an install fetches nothing else.
    expect(pkg.dependencies ?? {}).toEqual({});
    const [listing] = JSON.parse(npm(['pack', '--dry-run', '--json'], '.')) as [{ files: { path: string }[] }];
    const files = listing.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['bin/mongo-live-migrate.js', 'dist/cli.js', 'schemas/migration.schema.json', 'package.json', 'README.md']));
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f === 'dist/index.js')).toEqual([]);
  }, 60_000);

  it('installs from the packed tarball into an empty directory and runs --help and validate', () => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], '.')) as [{ filename: string }];
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "version": "1.0.0", "private": true }\n');
    npm(['install', '--offline', '--no-save', resolve(work, packed.filename)], app);
    const bin = join(app, 'node_modules', '.bin', 'mongo-live-migrate');

    const help = spawnSync(bin, ['--help'], { cwd: app, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: mongo-live-migrate <command> [options]');

    // validate with a broken file (exit 2, located), then with the example against unreachable servers: the
    // bundled driver runs and the failing connection checks come first.
    writeFileSync(join(app, 'migration.yaml'), 'version: 1\nname: Bad Name\n');
    const broken = spawnSync(bin, ['validate'], { cwd: app, encoding: 'utf8' });
    expect(broken.status).toBe(2);
    expect(broken.stderr).toMatch(/^migration\.yaml:2:7: expected lowercase letters/m);

    const example = join(app, 'node_modules', 'mongo-live-migrate', 'examples', 'migration.yaml');
    const env = { ...process.env, SOURCE_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1000', DESTINATION_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1000' };
    const validate = spawnSync(bin, ['validate', '--config', example], { cwd: app, encoding: 'utf8', env });
    expect(validate.status, validate.stderr).toBe(1);
    expect(validate.stdout.split('\n')[1]).toMatch(/^FAIL {2}source\.connection/);
    expect(validate.stdout).toMatch(/\d+ checks not run: the source and destination are not reachable \(source\.topology, /);
  }, 120_000);
});
