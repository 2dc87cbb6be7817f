import type { GitHubApi, PullRequestRef } from './github.js';

/**
 * Which pull request a run reports to. A pull_request event names it; an explicit `pull-request` input wins
 * over everything; a workflow_dispatch, schedule or push run asks the API for the pull request that last
 * changed the migration file. None found: the action writes only the job summary.
 */
export interface PullRequestSource {
  eventName: string;
  payload: EventPayload;
  /** The `pull-request` input. */
  input: number | undefined;
  /** migration.yaml relative to the repository root. */
  configPath: string;
  /** The commit the run is on (GITHUB_SHA). */
  sha: string | undefined;
}

/** The parts of an event payload this reads; everything is optional because every event differs. */
export interface EventPayload {
  pull_request?: { number?: number };
  issue?: { number?: number; pull_request?: unknown };
  number?: number;
}

export interface ResolvedPullRequest {
  number: number;
  how: 'event' | 'input' | 'last change of the config';
}

const PR_EVENTS = new Set(['pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment']);

export async function resolvePullRequest(api: GitHubApi, source: PullRequestSource): Promise<ResolvedPullRequest | undefined> {
  if (source.input) return { number: source.input, how: 'input' };
  if (PR_EVENTS.has(source.eventName)) {
    const number = source.payload.pull_request?.number ?? source.payload.number;
    return number ? { number, how: 'event' } : undefined;
  }
  if (source.eventName === 'issue_comment') {
    const issue = source.payload.issue;
    return issue?.number && issue.pull_request ? { number: issue.number, how: 'event' } : undefined;
  }
  const sha = await api.lastCommitTouching(source.configPath, source.sha);
  if (!sha) return undefined;
  const pick = choose(await api.pullRequestsOfCommit(sha));
  return pick ? { number: pick.number, how: 'last change of the config' } : undefined;
}

/** A merged pull request is the one that brought the change in; else an open one; else none. */
function choose(prs: PullRequestRef[]): PullRequestRef | undefined {
  return prs.find((p) => p.mergedAt) ?? prs.find((p) => p.state === 'open');
}
