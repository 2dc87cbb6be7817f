// `npm run demo` on a fresh clone: installs the npm packages when node_modules is missing or stale (the same
// lock-hash stamp as scripts/test.sh), provisions a mongod (scripts/provision-mongodb.sh), then runs the
// bundled CLI's demo. Extra arguments go to the demo (e.g. npm run demo -- --docs 20000 --json).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npmEnv = { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false' };

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

// 1. npm packages, as npm test installs them (the same stamp, so the two commands never install twice).
const lockHash = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
const stamp = join(root, 'node_modules', '.mlm-lock-hash');
const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
if (installed !== lockHash) {
  console.error('== npm ci (node_modules is missing or older than package-lock.json)');
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: npmEnv });
  if (ci.status !== 0 || !existsSync(join(root, 'node_modules', 'mongodb'))) fail('npm ci failed');
  writeFileSync(stamp, `${lockHash}\n`);
}

// 2. A mongod: MLM_MONGOD, one on PATH, or MongoDB 7.0 under Wine (its last stdout line is the path).
console.error('== provisioning MongoDB');
const provision = spawnSync('bash', [join(root, 'scripts', 'provision-mongodb.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: process.env, encoding: 'utf8' });
const mongod = provision.stdout.trim().split('\n').pop();
if (provision.status !== 0 || !mongod) fail('could not provision a mongod (see above); set MLM_MONGOD to one of yours and run again');
console.error(`mongod: ${mongod}`);

// 3. The demo itself. Ctrl-C reaches the child too (same process group): it stops what it started and
//    removes its data, so this process only waits for it and passes its exit code on. SIGINT is not
//    forwarded (a second one makes the CLI exit at once); a SIGTERM sent to this process alone is.
const child = spawn(process.execPath, [join(root, 'bin', 'mongo-live-migrate.js'), 'demo', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env: { ...process.env, MLM_MONGOD: mongod } });
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
