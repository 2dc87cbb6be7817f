// `npm run demo` on a fresh clone: installs the npm packages when node_modules does not match package-lock.json
// (scripts/deps-installed.mjs, as scripts/test.sh does), provisions a mongod (scripts/provision-mongodb.sh), then runs the
// bundled CLI's demo. Extra arguments go to the demo (e.g. npm run demo -- --docs 20000 --json).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstMissingPackage } from './deps-installed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npmEnv = { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false' };

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

// 1. npm packages, as npm test installs them: only when node_modules does not hold what the lock pins (so a
//    plain `npm ci` or `npm install` done by the user is never repeated).
const gap = firstMissingPackage(root);
if (gap) {
  console.error(`== npm ci (${gap})`);
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: npmEnv });
  if (ci.status !== 0 || firstMissingPackage(root)) fail('npm ci failed');
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
