import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandSpecs } from '../../src/commands/index.js';
import { commentMarker } from '../../src/report/markdown.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { connect, sharedClusters, startOwnCluster, uniqueName } from '../support/clusters.js';
import { ACTIONS_BOT, FakeGitHub, type FakeComment } from '../support/fake-github.js';

/**
 * The built action (dist/index.js) run as the runner runs it, against real replica sets and a local
 * stand-in for the GitHub REST API that records every request. Commands that are not built yet are left out
 * of the step sequence; when sync and tail register, they slot in (see STEPS) and their assertions switch on.
 */
const built = new Set(commandSpecs().filter((s) => s.impl).map((s) => s.name));
/**
 * The PR lifecycle, in order, with what exists today; validate runs twice (a second push) so there is always an
 * update. 'cutover' belongs at the end (its assertions below are ready): add it once the cutover command
 * commits on the shared one-member clusters.
 */
const STEPS = ['validate', 'validate', 'plan', 'sync', 'tail', 'status', 'verify', 'cutover'].filter((c) => built.has(c as never));
/** Steps that report "running since" when they start. */
const LONG = new Set(['sync', 'tail', 'cutover', 'verify', 'rehearse']);

const canary = `Canary-${uniqueName('pw').replace(/_/g, '')}-x9`;
const user = uniqueName('mlm_action_user');
const db = uniqueName('action_shop');
const migration = `action-${db.slice(-6).replace(/_/g, '')}`;
const PR = 42;
const token = 'ghs_fakeTokenForTheRecordingServer0001';

const prPayload = (number: number): unknown => ({
  action: 'synchronize',
  number,
  pull_request: {
    number,
    state: 'open',
    title: 'Migrate the shop database to Atlas',
    head: { ref: 'migrate-shop', sha: 'a'.repeat(40) },
    base: { ref: 'main', sha: 'b'.repeat(40) },
    user: { login: 'octocat', type: 'User' },
  },
  repository: { name: 'shop', full_name: 'acme/shop', owner: { login: 'acme' } },
  sender: { login: 'octocat', type: 'User' },
});

function configText(extra = ''): string {
  return [
    'version: 1',
    `name: ${migration}`,
    'source:',
    '  uri: ${SOURCE_URI}',
    'destination:',
    '  uri: ${DESTINATION_URI}',
    'namespaces:',
    `  include: ["${db}.*"]`,
    'tail:',
    '  maxDuration: 20s',
    'cutover:',
    '  maxLagSeconds: 30',
    '  lagHoldSeconds: 1',
    extra,
  ].join('\n');
}

/** Inserts credentials into a cluster URI. */
function withUser(uri: string): string {
  return uri.replace('mongodb://', `mongodb://${user}:${encodeURIComponent(canary)}@`).replace('/?', '/?authSource=admin&');
}

describe('the GitHub Action, run as the runner runs it', () => {
  let fake: FakeGitHub;
  let workspace: string;
  const clients: MongoClient[] = [];
  const runs: ActionRun[] = [];
  let env: Record<string, string>;
  let unrelatedBefore: FakeComment[];

  const step = async (command: string, over: { inputs?: Record<string, string>; eventName?: string; event?: unknown } = {}): Promise<ActionRun> => {
    const result = await runAction({
      inputs: { command, config: 'migration.yaml', 'github-token': token, ...over.inputs },
      workspace,
      apiUrl: fake.url,
      eventName: over.eventName ?? 'pull_request',
      event: over.event ?? prPayload(PR),
      env,
    });
    runs.push(result);
    return result;
  };

  let ownSource: LocalReplicaSet | undefined;

  beforeAll(async () => {
    // A source of its own: the cutover step write-blocks the whole source cluster.
    ownSource = await startOwnCluster({ name: 'action-src' });
    const sourceUri = ownSource.uri;
    const { destinationUri } = sharedClusters();
    // The canary is a real password of a real user on both clusters: the action connects with it.
    for (const uri of [sourceUri, destinationUri]) {
      const client = await connect(uri);
      clients.push(client);
      await client.db('admin').command({ createUser: user, pwd: canary, roles: ['root'] });
    }
    await clients[0]!.db(db).collection('orders').insertMany(Array.from({ length: 50 }, (_, i) => ({ n: i, total: i * 3 })));
    env = { SOURCE_URI: withUser(sourceUri), DESTINATION_URI: withUser(destinationUri) };

    fake = await FakeGitHub.start();
    // More than a page of other people's comments, among them a human one that even carries our marker,
    // and another migration's sticky comment from the same bot.
    for (let i = 0; i < 130; i++) fake.addComment(PR, `looks good ${i}`, { login: `reviewer${i % 3}`, type: 'User' });
    fake.addComment(PR, `${commentMarker(migration)}\nI pasted this marker by hand`, { login: 'reviewer0', type: 'User' });
    fake.addComment(PR, `${commentMarker('another-migration')}\nanother migration's report`, ACTIONS_BOT);
    unrelatedBefore = fake.comments.map((c) => ({ ...c }));
    workspace = mkdtempSync(join(tmpdir(), 'mlm-action-'));
    writeFileSync(join(workspace, 'migration.yaml'), configText());
  });

  afterAll(async () => {
    for (const client of clients) {
      await client.db('admin').command({ dropUser: user }).catch(() => undefined);
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
    await fake?.close();
    await ownSource?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it(`${STEPS.join(' → ')} on one PR: one comment, created once, then updated in place; others untouched`, async () => {
    const ids = new Set<number>();
    for (const [i, command] of STEPS.entries()) {
      const writesBefore = fake.writes().length;
      // cutover runs as migration-cutover.yml runs it: the typed name passed as `confirm`.
      const result = await step(command, command === 'cutover' ? { inputs: { confirm: migration } } : {});
      const exit = result.outputs['exit-code'];
      expect(exit, `${command}: ${result.stdout}${result.stderr}`).toMatch(/^[012]$/);
      expect(result.code).toBe(exit === '0' ? 0 : 1);

      const writes = fake.writes().slice(writesBefore);
      // A long step reports "running since" as it starts (and on each step change), then its outcome; a short
      // one writes once. Always the same comment, created once.
      if (LONG.has(command)) {
        expect(writes.length, `${command} writes a live report, then the outcome`).toBeGreaterThanOrEqual(2);
        expect(JSON.parse(writes[0]!.body).body).toContain(`\`${command}\` running since`);
        expect(JSON.parse(writes.at(-1)!.body).body).not.toContain('running since');
      } else expect(writes, `${command} writes exactly one comment request`).toHaveLength(1);
      for (const [j, write] of writes.entries()) {
        if (i === 0 && j === 0) expect(write.method).toBe('POST');
        else expect(write.method).toBe('PATCH');
        expect(write.authorization).toBe(`token ${token}`);
      }

      const ours = fake.comments.filter((c) => c.user.login === ACTIONS_BOT.login && c.body.startsWith(commentMarker(migration)));
      expect(ours).toHaveLength(1);
      ids.add(ours[0]!.id);
      expect(ours[0]!.body).toContain(`\`${command}\``);
      expect(ours[0]!.body.length).toBeLessThanOrEqual(65_536);

      // Outputs and the summary are written on every step.
      expect(result.outputs.migration).toBe(migration);
      expect(result.outputs['pull-request']).toBe(String(PR));
      expect(result.outputs.continue).toMatch(/^(true|false)$/);
      expect(result.outputs['ready-for-cutover']).toMatch(/^(true|false)$/);
      expect(JSON.parse(readFileSync(result.outputs.report!, 'utf8'))).toMatchObject({ command });
      expect(result.summary).toContain(`Migration \`${migration}\``);
      expect(result.summary).toContain('**Next:**');

      if (command === 'sync' || command === 'tail') {
        expect(result.outputs.phase).toMatch(/syncing|tailing/);
        const report = JSON.parse(readFileSync(result.outputs.report!, 'utf8')) as { progress: { totals: { documentsCopied: number } } };
        expect(result.outputs['documents-copied']).toBe(String(report.progress.totals.documentsCopied));
        expect(result.outputs['documents-copied']).toBe('50');
        // The copy really happened: the destination holds the source's documents.
        expect(await clients[1]!.db(db).collection('orders').countDocuments()).toBe(50);
      }
      if (command === 'tail') {
        // The lag threshold is generous (30s) on an idle source: tail reports readiness, and slices go on
        // (continue) until the cutover takes over; the next action is the cutover with every required input.
        expect(result.outputs['ready-for-cutover']).toBe('true');
        expect(result.outputs.continue).toBe('true');
        expect(result.outputs['lag-seconds']).toMatch(/^\d+(\.\d+)?$/);
        expect(ours[0]!.body).toContain(`gh workflow run migration-cutover.yml -f migration=migration.yaml -f confirm=${migration}`);
      }
      if (command === 'verify') {
        expect(exit).toBe('0');
        expect(ours[0]!.body).toContain('**Verification**');
      }
      if (command === 'cutover') {
        expect(exit).toBe('0');
        // The comment showed the cutover's steps as they passed.
        const shown = writes.map((w) => (JSON.parse(w.body) as { body: string }).body);
        expect(shown.some((b) => b.includes('now `tailing / lag-hold`')), shown.join('\n---\n')).toBe(true);
        expect(writes.length).toBeGreaterThanOrEqual(3);
        expect(result.outputs.phase).toBe('committed');
        expect(result.outputs.continue).toBe('false');
        expect(ours[0]!.body).toContain('the migration is committed');
      }
    }
    expect(ids.size).toBe(1);
    // The comment search paged through the comments.
    expect(fake.requests.some((r) => r.method === 'GET' && /\/issues\/42\/comments$/.test(r.path) && r.query.page === '2')).toBe(true);
    // Nobody else's comment changed, not even the human one carrying our marker.
    for (const before of unrelatedBefore) expect(fake.comments.find((c) => c.id === before.id)).toEqual(before);
    expect(fake.writes().every((w) => w.method === 'POST' || ids.has(Number(w.path.split('/').pop())))).toBe(true);
  });

  it('a workflow_dispatch run finds the PR that last changed the config and updates the same comment; with none, only the summary', async () => {
    fake.commitsByPath.set('migration.yaml', 'c'.repeat(40));
    fake.pullsByCommit.set('c'.repeat(40), [{ number: PR, state: 'closed', merged_at: '2026-11-20T10:00:00Z' }]);
    const writesBefore = fake.writes().length;
    const dispatched = await step('validate', { eventName: 'workflow_dispatch', event: { inputs: { migration: 'migration.yaml', command: 'validate' } } });
    expect(dispatched.outputs['pull-request']).toBe(String(PR));
    const writes = fake.writes().slice(writesBefore);
    expect(writes.map((w) => w.method)).toEqual(['PATCH']);

    fake.commitsByPath.clear();
    const scheduled = await step('validate', { eventName: 'schedule', event: { schedule: '0 3 * * 1' } });
    expect(scheduled.outputs['pull-request']).toBe('');
    expect(fake.writes().length).toBe(writesBefore + 1);
    expect(scheduled.summary).toContain(`Migration \`${migration}\``);
    expect(scheduled.stdout).toContain('no pull request to comment on');
  });

  it('a broken config: annotations with file and line, a failed step, and the problems in the comment', async () => {
    writeFileSync(join(workspace, 'migration.yaml'), configText('sync:\n  batchSize: "many"\n'));
    try {
      const result = await step('validate');
      expect(result.code).toBe(1);
      expect(result.outputs['exit-code']).toBe('2');
      // core.error(message, {file, startLine, startColumn}) → ::error title=...,file=migration.yaml,line=15,col=14::...
      expect(result.stdout).toMatch(/^::error title=migration configuration,file=migration\.yaml,line=15,col=\d+::.*batchSize/m);
      expect(result.summary).toContain('problem');
      expect(result.stdout).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace
      const ours = fake.comments.filter((c) => c.body.startsWith(commentMarker(migration)) && c.user.type === 'Bot');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.body).toContain('migration.yaml:15');
    } finally {
      writeFileSync(join(workspace, 'migration.yaml'), configText());
    }
  });

  it('a bad input and an unbuilt command fail the step with a clear message', async () => {
    const bad = await step('frobnicate');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^::error::input "command" "frobnicate" is not a command: expected one of validate, plan/m);

    const noConfirm = await step('cutover');
    expect(noConfirm.code).toBe(1);
    expect(noConfirm.stdout).toContain('input "confirm" is required for cutover');

    // The migration committed in the first test: abort (it would lift the source write block) and
    // drop-destination need the name typed, from the action as from the CLI.
    const guarded = await step('abort', { inputs: { 'drop-destination': 'true' } });
    expect(guarded.outputs['exit-code']).toBe('2');
    expect(guarded.stdout).toMatch(/^::error::--drop-destination removes every collection migration ".*" created on the destination, and its state: confirm with --confirm/m);
    const committed = await step('abort');
    expect(committed.outputs['exit-code']).toBe('2');
    expect(committed.stdout).toMatch(/is committed: abort would lift the source write block/);
    expect(committed.outputs.phase).toBe('');

    const unbuilt = (['abort', 'rehearse', 'verify', 'status', 'sync', 'tail'] as const).find((c) => !built.has(c));
    if (unbuilt) {
      const result = await step(unbuilt);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(new RegExp(`^::error::the ${unbuilt} command is not built yet`, 'm'));
    }
  });

  it('the canary password is in no request, output, summary, report or log line', async () => {
    expect(runs.length).toBeGreaterThan(3);
    for (const request of fake.requests) expect(request.body + JSON.stringify(request.query)).not.toContain(canary);
    for (const result of runs) {
      // ::add-mask:: is how the runner learns the secret (it never shows that line): the only place allowed.
      const logLines = (result.stdout + result.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::'));
      for (const text of [...logLines, JSON.stringify(result.outputs), result.summary]) expect(text).not.toContain(canary);
      if (result.outputs.report) expect(readFileSync(result.outputs.report, 'utf8')).not.toContain(canary);
      // Masks come before any other line: nothing could print a secret before the runner knew it.
      const lines = result.stdout.split('\n');
      const firstOther = lines.findIndex((l) => !l.startsWith('::add-mask::'));
      const lastMask = lines.findLastIndex((l) => l.startsWith('::add-mask::'));
      expect(lastMask).toBeLessThan(firstOther);
    }
    expect(runs.every((r) => r.stdout.startsWith('::add-mask::'))).toBe(true);
  });
});
