import type { GitHubApi, IssueComment } from './github.js';

/**
 * The sticky comment: one per migration and pull request, found by its hidden marker and updated in place,
 * created only when none exists. Only a comment that we wrote qualifies, so a marker pasted into someone's
 * comment (or quoted in a reply) is never overwritten: with a token that can name its user, the author must
 * be that user; with GITHUB_TOKEN or an app token (which cannot), the author must be a bot account.
 */
export interface StickyResult {
  action: 'created' | 'updated';
  id: number;
}

export async function upsertStickyComment(api: GitHubApi, issue: number, marker: string, body: string): Promise<StickyResult> {
  const existing = await findStickyComment(api, issue, marker);
  if (existing) {
    await api.updateComment(existing.id, body);
    return { action: 'updated', id: existing.id };
  }
  const created = await api.createComment(issue, body);
  return { action: 'created', id: created.id };
}

/** The oldest comment of ours holding the marker; paging stops at the first match. */
export async function findStickyComment(api: GitHubApi, issue: number, marker: string): Promise<IssueComment | undefined> {
  const viewer = await api.viewerLogin();
  const ours = (c: IssueComment): boolean => (viewer ? c.user?.login === viewer : c.user?.type === 'Bot');
  for await (const page of api.commentPages(issue)) {
    // The marker must open the body, as we write it: a quote ("> <!-- ... -->") does not count.
    const match = page.find((c) => ours(c) && c.body.trimStart().startsWith(marker));
    if (match) return match;
  }
  return undefined;
}
