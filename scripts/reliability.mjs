// Runs the reliability and security suite against real replica sets and writes RELIABILITY.md: one row per
// case with what it proves, tests run and passed, time and seed. A file that does not exist is reported as
// "missing" (never as a pass); a failing case stays in the table as failed. Exit code 1 when anything failed
// or is missing. `node scripts/reliability.mjs [--seed N]`; MLM_MONGOD or `npm run provision` gives the mongod.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';

const CASES = [
  { file: 'test/integration/crash-resume.test.ts', case: 'Crash anywhere: copy, replay, tail', proves: 'kill -9 of the runner at seeded random points; every rerun completes; 0 lost, 0 duplicated; both sides equal' },
  { file: 'test/integration/change-path-fuzz.test.ts', case: 'Change-path fuzzer', proves: 'seeded random data operations (every kind, transactions, equal-but-different _ids, integer-like field names, capped and collated targets) and DDL bursts (create, drop, rename, the swap, indexes, collMod) with kill -9 of the runner at seeded moments in copy, replay and tail (long mode); both sides equal byte for byte' },
  { file: 'test/integration/tail-burst.test.ts', case: 'Tail under a burst', proves: 'a batch job (updateMany, pipeline updates that move fields, bulk inserts, deleteMany, a transaction), applied from the updates\' deltas, while the tail is killed with SIGKILL at seeded moments; 72 MB of looked-up documents in one batch; both sides equal byte for byte; the same with continuous verification on ends verified and reports exactly the one difference planted on the destination' },
  { file: 'test/integration/update-diff.test.ts', case: 'Update deltas, byte for byte', proves: 'seeded operator and pipeline updates (moved fields, new fields out of name order, array cuts and shifts, integer-like names, every numeric type) on a mirror holding the exact pre-image: every delta applied leaves the same bytes as the source; nothing the server accepts is refused (long mode: 20,000 rounds)' },
  { file: 'test/integration/update-deltas.test.ts', case: 'Update deltas in the tail', proves: 'updates of every shape, moves, a hot document and transactions applied from their delta by CLI runners, none missing its document; then kill -9 after deltas landed and before their position was saved: each rerun applies them again and converges, byte for byte' },
  { file: 'test/integration/set-writes.test.ts', case: 'A batch job, several documents to a statement', proves: 'deletes by _id $in, one update statement for documents that got the same one, and a pipeline for each document\'s own values (every plain scalar type: -0.0, NaN, infinities, Decimal128 -0, strings read as paths elsewhere), applied by CLI runners; documents the destination lacks make their set fall back to one statement each and are named; kill -9 after the sets landed and before their position was saved: the rerun applies them again; both sides equal byte for byte' },
  { file: 'test/integration/source-scope.test.ts', case: 'The stream\'s scope', proves: 'the source stream filtered on the server by the migrated databases\' names: another database\'s writes never arrive, a collection renamed out of the scope is dropped on the destination, one renamed in from another database is copied; equal by dbHash' },
  { file: 'test/integration/change-path.test.ts', case: 'Change path, case by case', proves: 'raw bytes through change events, events over 16 MB, renames before copy, dropDatabase with views, equal-but-different _ids, capped order, clustered TTL, $out; each compared byte for byte' },
  { file: 'test/integration/plan-rename-race.test.ts', case: 'DDL while the copy is planned and opened', proves: 'a rename or drop on the primary alone (its secondary held with fsyncLock), or a majority-committed rename, between the capture point and the catalog read makes the plan start again; a collection renamed away and another created under its name before a partition opens is not copied in its place; a collection dropped on the primary alone while others are copied is not taken as gone until a majority holds the drop; equal byte for byte' },
  { file: 'test/integration/replay-ddl.test.ts', case: 'DDL replayed onto a later copy', proves: 'a collection modified (collMod), indexed or unindexed and then dropped after the capture point but before the copy reads its catalog: the replay of each change finds no collection and goes on, the drop that follows is what the copy shows; the sync ends and the sides are equal byte for byte' },
  { file: 'test/integration/change-path-kill.test.ts', case: 'Crash anywhere: a DDL batch', proves: 'kill -9 at every point of a batch that mixes the rename swap with data (before, between and after each DDL step); each rerun converges, byte for byte' },
  { file: 'test/integration/cutover.test.ts', case: 'Crash anywhere: each cutover step', proves: 'kill -9 at every cutover step (failpoints); the rerun commits; no acknowledged write lost; a difference planted on the destination in the last seconds before the block stops the commit; abort lifts the write block' },
  { file: 'test/integration/continuous-verify.test.ts', case: 'Continuous verification', proves: 'during tail, before any cutover: a document changed, one deleted and one added on the destination behind the migration, an extra index and a changed option are all reported; the recheck queue survives kill -9 at seeded points (partition comparison, tail feed, recheck) and still finds a planted difference' },
  { file: 'test/integration/verify-fuzz.test.ts', case: 'Verification fuzzer', proves: 'seeded differences planted on the destination behind the migration (a value\'s BSON type, field order, integer-like field names reordered inside a sub-document, a changed value, a missing and an extra document, an int32 _id replaced by its double twin) on _ids of every kind (four number types, strings, ObjectIds, dates, binaries, documents with integer-like field names), before and after continuous verification compared their partitions, while a writer changes other documents on the source: continuous verification confirms exactly the planted documents, none of the source\'s changes, and the one-shot verify names exactly them' },
  { file: 'test/integration/verifier-reconnect.test.ts', case: 'Verification through cut connections', proves: 'the destination connections are reset twice while a tail slice verifies 20,000 documents; continuous verification starts again from the saved state and finishes the comparison in the same slice' },
  { file: 'test/integration/comparison-frontier.test.ts', case: 'Verification left to the comparison', proves: 'the _id order the frontier decides agrees with the server\'s sort for every decidable pair and never claims one it cannot know; a document the feed leaves to a partition still to be read is found wrong by that comparison, one already read is queued' },
  { file: 'test/integration/unique-finalize.test.ts', case: 'Unique indexes finalized during tail', proves: 'relaxed unique indexes are unique on the destination before the cutover; swapped and chained unique values on the source reach it through the duplicate-key resolution; a delta its delete replaces in the same batch is not left open when a duplicate key is resolved beside it; equal byte for byte' },
  { file: 'test/integration/signal.test.ts', case: 'Stop signals', proves: 'SIGINT / SIGTERM stop the runner cleanly with the position saved; the rerun continues' },
  { file: 'test/integration/failover.test.ts', case: 'Elections (source)', proves: 'source primary of a three-member set steps down during copy (and is killed), and again during tail, under writers; completes, equal' },
  { file: 'test/integration/source-cutover-failover.test.ts', case: 'Elections (source, cutover)', proves: 'source primary of a three-member set steps down the moment the cutover starts its steps, under a writer; the cutover resumes at its recorded step and commits, the block holds on the new primary, equal by dbHash' },
  { file: 'test/integration/destination-failover.test.ts', case: 'Elections (destination)', proves: 'destination primary of a three-member set steps down during copy, during tail and during cutover, under a writer; cutover commits, equal by dbHash, unique index restored' },
  { file: 'test/integration/destination-rollback.test.ts', case: 'Rollback (destination)', proves: 'the tail writes data with w: 1; the destination primary holding a batch alone is killed before the position save fence, before the save, and with two saves open (the next fence written while a save waits for its majority); nothing rolled back is covered by a saved position; equal byte for byte' },
  { file: 'test/integration/network-cuts.test.ts', case: 'Network cuts', proves: 'a TCP proxy per side drops every connection at seeded random moments; the runner reconnects with backoff and finishes, equal; a side down past the limit stops with a clear error (exit 1) and a rerun continues' },
  { file: 'test/integration/stalled-path.test.ts', case: 'Lost replies', proves: 'replies lost on connections that stay open (a proxy freezes every connection waiting for one, on each side, under a writer); the runner closes each within its command bound and the tail goes on from its saved position; the slice ends on time; equal by dbHash' },
  { file: 'test/integration/verifier-stall.test.ts', case: 'Lost replies (verification)', proves: 'the source holds continuous verification\'s reads without a reply (a failpoint on its connections alone): a slice that ends meanwhile ends on time; a step that gets no reply within the bound has its connections closed and the comparison finishes in the same slice' },
  { file: 'test/integration/rollback.test.ts', case: 'Source rollback', proves: 'w:1 writes on a three-member source that a failover rolls back are never copied (majority reads, capture point at the majority optime); equal by dbHash' },
  { file: 'test/integration/oplog-loss.test.ts', case: 'Oplog loss', proves: 'the saved position rolls off the source oplog while stopped; the next run refuses clearly, the state says re-sync, nothing applied past the gap; continuous verification whose destination stream lost its place starts again and compares everything again' },
  { file: 'test/integration/lease.test.ts', case: 'Two runners at once', proves: 'two runners on one migration: exactly one proceeds; a rerun after a killed runner waits for its lease to expire (saying so), then proceeds; a successor first stops the writes a killed runner left executing on the server' },
  { file: 'test/integration/slices.test.ts', case: 'Slices and handoff', proves: 'sync slices of 2 s pause the copy with its place saved and resume it to the end, equal; a cutover approved while a tail slice runs takes over within seconds and commits; abort of a committed migration needs the name' },
  { file: 'test/integration/lifecycle.test.ts', case: 'Lifecycle as GitHub runs it', proves: 'the run and cutover workflows played with dist/index.js under a writer: sync slices, a job killed at its limit, an approval during a tail slice, a late slice; committed, equal by dbHash' },
  { file: 'test/unit/config-fuzz.test.ts', case: 'Bad configuration', proves: '>= 1,000 seeded broken configs (wrong types, unknown keys, bad globs, bad durations, missing env vars, duplicated keys, YAML syntax errors, huge files) through the CLI: exit 2, file:line:col, no stack, no canary' },
  { file: 'test/integration/secrets.test.ts', case: 'Secrets (CLI, state)', proves: 'a canary password in both URIs is in no log line at any level, error, status JSON, text output or state document' },
  { file: 'test/integration/action-run.test.ts', case: 'Secrets (GitHub Action)', proves: 'the canary is in no PR comment body, job summary, action output, report or log line of the action' },
  { file: 'test/integration/least-privilege.test.ts', case: 'Least privilege', proves: 'a whole migration (validate to cutover, verify, abort) with users holding only the README\'s roles' },
  { file: 'test/integration/bson-fidelity.test.ts', case: 'Hostile data', proves: '16 MB documents, deep nesting, 10,000-field documents, every BSON type, $ and . in field names, unicode and spaces in names' },
];

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const seedArg = args.indexOf('--seed');
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));

function provision() {
  if (process.env.MLM_MONGOD || process.env.MLM_TEST_SOURCE_URI) return process.env.MLM_MONGOD;
  const out = execFileSync('bash', ['scripts/provision-mongodb.sh'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

function mongodVersion(mongod) {
  if (!mongod) return 'clusters from the environment';
  try {
    const out = execFileSync(mongod, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /db version (v[\d.]+)/.exec(out)?.[1] ?? 'unknown version';
  } catch {
    return 'unknown version';
  }
}

function runVitest(files, env) {
  return new Promise((resolvePromise) => {
    const child = spawn('npx', ['vitest', 'run', ...files, '--reporter=default', '--reporter=json', '--outputFile.json=.tmp/reliability.json'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    child.on('exit', (code) => resolvePromise({ code, stdout }));
  });
}

const fmtSeconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'); // colour codes in captured output
const stripAnsi = (text) => text.replace(ANSI, '');

const present = CASES.filter((c) => existsSync(resolve(root, c.file)));
const mongod = provision();
mkdirSync(resolve(root, '.tmp'), { recursive: true });
const env = { ...process.env, ...(mongod ? { MLM_MONGOD: mongod } : {}), MLM_SEED: String(seed), MLM_CRASH_SEED: process.env.MLM_CRASH_SEED ?? String(seed), MLM_FUZZ_LONG: '1' };
console.log(`[reliability] seed ${seed}; ${present.length} of ${CASES.length} files present; mongod ${mongod ?? '(environment URIs)'}`);
const started = Date.now();
const { stdout } = present.length ? await runVitest(present.map((c) => c.file), env) : { stdout: '' };
const wall = Date.now() - started;

let report = { testResults: [] };
try {
  report = JSON.parse(readFileSync(resolve(root, '.tmp/reliability.json'), 'utf8'));
} catch {
  console.error('[reliability] vitest wrote no JSON report');
}
const byFile = new Map(report.testResults.map((r) => [relative(root, r.name), r]));

// Figures the tests print: "[tag] seed=N" and "[tag] figure: text", where tag is the file's base name.
const seeds = new Map();
const figures = new Map();
for (const line of stripAnsi(stdout).split('\n')) {
  const s = /\[([\w-]+)\] seed=(\d+)/.exec(line);
  if (s) seeds.set(s[1], s[2]);
  const f = /\[([\w-]+)\] figure: (.+)$/.exec(line);
  if (f) figures.set(f[1], [...(figures.get(f[1]) ?? []), f[2].trim()]);
}

let bad = 0;
const rows = CASES.map((c) => {
  const tag = basename(c.file).replace(/\.test\.ts$/, '');
  const result = byFile.get(c.file);
  if (!existsSync(resolve(root, c.file))) {
    bad++;
    return { ...c, tag, status: 'missing', run: '-', passed: '-', time: '-', seed: '-', failures: [] };
  }
  if (!result) {
    bad++;
    return { ...c, tag, status: 'not run', run: '-', passed: '-', time: '-', seed: '-', failures: [] };
  }
  const tests = result.assertionResults.filter((a) => a.status !== 'skipped' && a.status !== 'pending' && a.status !== 'todo');
  const passed = tests.filter((a) => a.status === 'passed').length;
  const failures = tests.filter((a) => a.status !== 'passed').map((a) => `${a.fullName ?? a.title}: ${stripAnsi((a.failureMessages ?? []).join(' ')).split('\n')[0]}`);
  if (result.status !== 'passed' && !failures.length) failures.push(stripAnsi(result.message ?? 'the file failed to run').split('\n')[0]);
  const ok = passed === tests.length && tests.length > 0 && result.status === 'passed';
  if (!ok) bad++;
  return { ...c, tag, status: ok ? 'passed' : 'FAILED', run: String(tests.length), passed: String(passed), time: fmtSeconds((result.endTime ?? 0) - (result.startTime ?? 0)), seed: seeds.get(tag) ?? '-', failures };
});

const escape = (text) => String(text).replace(/\|/g, '\\|');
const lines = [
  '# Reliability and security',
  '',
  `Generated by \`npm run reliability\` (scripts/reliability.mjs) on ${new Date().toISOString().slice(0, 10)} against real replica sets (MongoDB ${mongodVersion(mongod)}).`,
  `Run seed ${seed} (each seeded test prints its own; rerun one with \`MLM_SEED=<seed>\`, the crash tests with \`MLM_CRASH_SEED=<seed>\`). Wall time ${fmtSeconds(wall)}.`,
  'Every row runs against real mongod processes (the configuration fuzz needs none: it stops before connecting).',
  'A failing case is a bug to fix, never a row to delete; a file that does not exist yet shows as missing.',
  '',
  '| case | what it proves | file | status | tests run | passed | time | seed | figures |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${escape(r.case)} | ${escape(r.proves)} | \`${r.file}\` | ${r.status} | ${r.run} | ${r.passed} | ${r.time} | ${r.seed} | ${escape((figures.get(r.tag) ?? []).join('; ') || '-')} |`),
  '',
];
const failing = rows.filter((r) => r.failures.length);
if (failing.length) {
  lines.push('## Failures', '');
  for (const r of failing) for (const f of r.failures) lines.push(`- \`${r.file}\`: ${escape(f).slice(0, 400)}`);
  lines.push('');
}
writeFileSync(resolve(root, 'RELIABILITY.md'), lines.join('\n'));
console.log(`[reliability] RELIABILITY.md written: ${rows.filter((r) => r.status === 'passed').length} passed, ${bad} failed, missing or not run`);
process.exit(bad ? 1 : 0);
