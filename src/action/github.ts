import * as github from '@actions/github';

/**
 * The few REST calls the action makes, behind an interface: the sticky comment and the pull-request lookup
 * are plain logic over it, and tests may hand them an in-memory implementation. `nullGitHub` stands in when
 * there is no token: nothing is read or written, and the action writes only the job summary.
 */
export interface IssueComment {
  id: number;
  body: string;
  user: { login: string; type: string } | null;
}

export interface PullRequestRef {
  number: number;
  state: string;
  mergedAt: string | null;
}

export interface GitHubApi {
  /** The issue's comments, oldest first, one page at a time (stop iterating to stop fetching). */
  commentPages(issue: number): AsyncIterable<IssueComment[]>;
  createComment(issue: number, body: string): Promise<IssueComment>;
  updateComment(id: number, body: string): Promise<IssueComment>;
  /** The login the token acts as, or undefined when the token cannot say (GITHUB_TOKEN and app tokens). */
  viewerLogin(): Promise<string | undefined>;
  /** The newest commit at or before `ref` that changed `path`. */
  lastCommitTouching(path: string, ref: string | undefined): Promise<string | undefined>;
  pullRequestsOfCommit(sha: string): Promise<PullRequestRef[]>;
}

export const nullGitHub: GitHubApi = {
  async *commentPages() {},
  async createComment() {
    throw new Error('no GitHub token: comments cannot be written');
  },
  async updateComment() {
    throw new Error('no GitHub token: comments cannot be written');
  },
  async viewerLogin() {
    return undefined;
  },
  async lastCommitTouching() {
    return undefined;
  },
  async pullRequestsOfCommit() {
    return [];
  },
};

/** The REST API through @actions/github's Octokit (base URL from GITHUB_API_URL, proxies honoured). */
export function octokitGitHub(token: string, repo: { owner: string; repo: string }, baseUrl?: string): GitHubApi {
  const octokit = github.getOctokit(token, baseUrl ? { baseUrl } : {});
  const toComment = (c: { id: number; body?: string | null; user: { login: string; type: string } | null }): IssueComment => ({
    id: c.id,
    body: c.body ?? '',
    user: c.user ? { login: c.user.login, type: c.user.type } : null,
  });
  return {
    async *commentPages(issue) {
      const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { ...repo, issue_number: issue, per_page: 100 });
      for await (const page of pages) yield page.data.map(toComment);
    },
    async createComment(issue, body) {
      return toComment((await octokit.rest.issues.createComment({ ...repo, issue_number: issue, body })).data);
    },
    async updateComment(id, body) {
      return toComment((await octokit.rest.issues.updateComment({ ...repo, comment_id: id, body })).data);
    },
    async viewerLogin() {
      try {
        return (await octokit.rest.users.getAuthenticated()).data.login;
      } catch {
        return undefined; // 403 "Resource not accessible by integration" for installation tokens
      }
    },
    async lastCommitTouching(path, ref) {
      const { data } = await octokit.rest.repos.listCommits({ ...repo, path, per_page: 1, ...(ref ? { sha: ref } : {}) });
      return data[0]?.sha;
    },
    async pullRequestsOfCommit(sha) {
      const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: sha });
      return data.map((p) => ({ number: p.number, state: p.state, mergedAt: p.merged_at ?? null }));
    },
  };
}
