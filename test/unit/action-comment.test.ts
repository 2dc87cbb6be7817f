import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findStickyComment, upsertStickyComment } from '../../src/action/comment.js';
import { octokitGitHub, type GitHubApi } from '../../src/action/github.js';
import { resolvePullRequest } from '../../src/action/pull-request.js';
import { commentMarker } from '../../src/report/markdown.js';
import { ACTIONS_BOT, FakeGitHub } from '../support/fake-github.js';

/** The sticky comment and the pull-request lookup through the real Octokit, against the recording fake. */
describe('sticky comment', () => {
  let fake: FakeGitHub;
  let api: GitHubApi;
  const marker = commentMarker('orders');
  beforeAll(async () => {
    fake = await FakeGitHub.start();
    api = octokitGitHub('ghs_test', { owner: 'acme', repo: 'shop' }, fake.url);
  });
  afterAll(() => fake.close());

  it('creates once, then updates the same comment, paging past 250 others and ignoring look-alikes', async () => {
    for (let i = 0; i < 250; i++) fake.addComment(7, `comment ${i}`, { login: `dev${i % 4}`, type: 'User' });
    fake.addComment(7, `> ${marker}\n> quoted by a bot`, ACTIONS_BOT);
    fake.addComment(7, `${marker}\nhand-made`, { login: 'dev1', type: 'User' });
    fake.addComment(7, `${commentMarker('orders-2')}\nanother migration`, ACTIONS_BOT);
    const first = await upsertStickyComment(api, 7, marker, `${marker}\nv1`);
    expect(first.action).toBe('created');
    const second = await upsertStickyComment(api, 7, marker, `${marker}\nv2`);
    expect(second).toEqual({ action: 'updated', id: first.id });
    expect(fake.commentsOn(7).filter((c) => c.body.includes('v2'))).toHaveLength(1);
    expect(fake.writes().map((w) => `${w.method} ${w.path}`)).toEqual(['POST /repos/acme/shop/issues/7/comments', `PATCH /repos/acme/shop/issues/comments/${first.id}`]);
    const pages = fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues/7/comments')).map((r) => r.query.page ?? '1');
    expect(pages).toEqual(['1', '2', '3', '1', '2', '3']);
  });

  it('with a token that names its user, only that user’s comment qualifies', async () => {
    fake.viewer = { login: 'migration-bot', type: 'User' };
    fake.addComment(8, `${marker}\nby the actions bot`, ACTIONS_BOT);
    const mine = fake.addComment(8, `${marker}\nmine`, fake.viewer);
    expect((await findStickyComment(api, 8, marker))?.id).toBe(mine.id);
    fake.viewer = undefined;
  });

  it('resolves the pull request from the event, the input, or the last change of the config', async () => {
    const base = { payload: {}, input: undefined, configPath: 'migrations/orders/migration.yaml', sha: 'e'.repeat(40) };
    expect(await resolvePullRequest(api, { ...base, eventName: 'pull_request', payload: { pull_request: { number: 5 } } })).toEqual({ number: 5, how: 'event' });
    expect(await resolvePullRequest(api, { ...base, eventName: 'workflow_dispatch', input: 9 })).toEqual({ number: 9, how: 'input' });
    expect(await resolvePullRequest(api, { ...base, eventName: 'schedule' })).toBeUndefined();
    fake.commitsByPath.set(base.configPath, 'd'.repeat(40));
    fake.pullsByCommit.set('d'.repeat(40), [{ number: 3, state: 'closed', merged_at: null }, { number: 4, state: 'closed', merged_at: '2026-11-20T00:00:00Z' }]);
    expect(await resolvePullRequest(api, { ...base, eventName: 'schedule' })).toEqual({ number: 4, how: 'last change of the config' });
    const lookup = fake.requests.find((r) => r.path === '/repos/acme/shop/commits' && r.query.path === base.configPath);
    expect(lookup?.query.sha).toBe(base.sha);
  });
});
