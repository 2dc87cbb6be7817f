import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATE_DB } from '../../src/namespaces.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { commentMarker } from '../../src/report/markdown.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { dbHashes, Writer } from '../support/engine.js';
import { FakeGitHub } from '../support/fake-github.js';

/**
 * A short lifecycle driver: the run and cutover workflows of examples/ played the way GitHub plays them, each
 * job being dist/index.js, the next dispatch decided by the rule of migration-run.yml's "dispatch the next
 * slice" step (mirrored in `nextDispatch`), while a writer keeps going on the source. On the way: a sync whose
 * copy takes several slices, a job killed at its time limit (the next one waits for its lease), a reviewer
 * who approves while a tail slice runs (the slice hands over), and a late slice after the commit. At the end
 * both sides are equal.
 */
const PR = 7;
const token = 'ghs_fakeTokenForTheLifecycleDriver01';
const db = uniqueName('life');
const migration = `life-${db.slice(-6).replace(/_/g, '')}`;

/** migration-run.yml's dispatch rule: always() && command is sync/tail && (continue || killed without outputs). */
function nextDispatch(command: string, run: ActionRun, killed: boolean): string | undefined {
  if (command !== 'sync' && command !== 'tail') return undefined;
  if (run.outputs.continue !== 'true' && !(killed && !run.outputs['exit-code'])) return undefined;
  return run.outputs.phase === 'tailing' ? 'tail' : command;
}

describe('lifecycle driver: the example workflows, played as GitHub plays them', () => {
  let rs: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  let fake: FakeGitHub;
  let workspace: string;
  let env: Record<string, string>;
  let writer: Writer | undefined;

  beforeAll(async () => {
    // A source of its own: the cutover blocks writes on the whole cluster.
    rs = await startOwnCluster({ name: 'life-src' });
    source = await connect(rs.uri);
    destination = await connect(sharedClusters().destinationUri);
    await source.db(db).createCollection('orders');
    await source.db(db).createCollection('more');
    // Enough that a sync takes more than one 2 s slice on a quiet machine (20k once fitted in one 3 s slice).
    await source.db(db).collection('orders').insertMany(Array.from({ length: 60_000 }, (_, i) => ({ n: i, pad: 'x'.repeat(100) })));
    fake = await FakeGitHub.start();
    workspace = mkdtempSync(join(tmpdir(), 'mlm-life-'));
    writeFileSync(
      join(workspace, 'migration.yaml'),
      ['version: 1', `name: ${migration}`, 'source:', '  uri: ${SOURCE_URI}', 'destination:', '  uri: ${DESTINATION_URI}', 'namespaces:', `  include: ["${db}.*"]`, 'sync:', '  batchSize: 200', 'cutover:', '  maxLagSeconds: 10', '  lagHoldSeconds: 1'].join('\n'),
    );
    env = { SOURCE_URI: rs.uri, DESTINATION_URI: sharedClusters().destinationUri, MLM_LEASE_TTL_MS: '6000' };
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await source?.close();
    await destination?.close();
    await fake?.close();
    await rs?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  const job = (command: string, inputs: Record<string, string> = {}, timeoutMs = 120_000): Promise<ActionRun> =>
    runAction({
      inputs: { command, config: 'migration.yaml', 'github-token': token, 'pull-request': String(PR), ...inputs },
      workspace,
      apiUrl: fake.url,
      eventName: 'workflow_dispatch',
      event: { inputs: { migration: 'migration.yaml', command } },
      env,
      timeoutMs,
    });

  it('validate → sync slices → tail slices (one killed) → an approved cutover takes over → committed, sides equal', async () => {
    const log: string[] = [];
    expect((await job('validate')).outputs['exit-code']).toBe('0');

    writer = new Writer(rs.uri, db, ['orders', 'more']);
    writer.start();
    // migration-run.yml, dispatched with sync: slices follow each other while the action says continue.
    let command: string | undefined = 'sync';
    let generation = 0;
    while (command && generation < 100) {
      const result = await job(command, { 'max-duration': command === 'sync' ? '2s' : '3s' });
      log.push(`${command}: exit ${result.outputs['exit-code']}, phase ${result.outputs.phase}, copied ${result.outputs['documents-copied']}, lag ${result.outputs['lag-seconds']}, continue ${result.outputs.continue}`);
      console.info(`[lifecycle] ${log.at(-1)}`);
      expect(result.outputs['exit-code'], `${command}: ${result.stdout.slice(-2000)}`).toBe('0');
      generation++;
      command = nextDispatch(command, result, false);
      if (command === 'tail' && result.outputs['ready-for-cutover'] === 'true') break;
    }
    expect(log.filter((l) => l.startsWith('sync')).length, log.join('\n')).toBeGreaterThan(1);
    expect(command, log.join('\n')).toBe('tail'); // ready, and slices go on until the cutover takes over

    // A tail slice killed at its job's time limit before it could say anything: the rule dispatches again,
    // and that slice waits for the dead runner's lease instead of failing.
    const killed = await job('tail', { 'max-duration': '60s' }, 15_000);
    expect(killed.outputs['exit-code'] ?? '').toBe('');
    expect(nextDispatch('tail', killed, true)).toBe('tail');
    const deadLease = (await destination.db(STATE_DB).collection<{ _id: string; lease: unknown }>('migrations').findOne({ _id: migration }))?.lease;

    // The next slice runs (a long one); a reviewer approves the cutover while it runs.
    const slice = job('tail', { 'max-duration': '5m' });
    await new Promise((r) => setTimeout(r, 15_000));
    const approvedAt = Date.now();
    const cutover = await job('cutover', { confirm: migration, 'max-duration': '5m' });
    const handedOver = await slice;
    console.info(`[lifecycle] killed job left its lease: ${deadLease ? 'yes' : 'no'}; tail slice after it: ${handedOver.outputs['exit-code']}, continue ${handedOver.outputs.continue}; cutover ${cutover.outputs.phase} ${Math.round((Date.now() - approvedAt) / 1000)} s after approval`);
    expect(handedOver.outputs['exit-code'], handedOver.stdout.slice(-2000)).toBe('0');
    // Killed while holding the lease (it had started tailing): the next slice waited for it, saying so.
    if (deadLease) expect(handedOver.stdout).toMatch(/is held by .*: waiting up to \d+ s for it to end or, if that runner is gone, for its lease to expire/);
    expect(handedOver.stdout).toMatch(/handed over to the cutover/);
    expect(handedOver.outputs.continue).toBe('false');
    expect(nextDispatch('tail', handedOver, false)).toBeUndefined();
    expect(cutover.outputs['exit-code'], cutover.stdout.slice(-3000)).toBe('0');
    expect(cutover.outputs.phase).toBe('committed');
    await writer.stop();

    // A slice dispatched late ends at once and asks for no more.
    const late = await job('tail', { 'max-duration': '30s' });
    expect(late.outputs['exit-code']).toBe('0');
    expect(late.outputs.continue).toBe('false');

    const [src, dst] = await Promise.all([dbHashes(source, db), dbHashes(destination, db)]);
    expect(dst).toEqual(src);
    const comment = fake.comments.find((c) => c.body.startsWith(commentMarker(migration)));
    expect(comment?.body).toContain('the migration is committed');
    console.info(`[lifecycle] ${log.length} run-workflow slices before the cutover`);
  }, 600_000);
});
