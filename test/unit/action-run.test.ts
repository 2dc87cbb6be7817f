import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GitHubApi, IssueComment } from '../../src/action/github.js';
import type { ActionIO, Annotation } from '../../src/action/io.js';
import { run } from '../../src/action/run.js';

/** run() in-process with a recording runner and an in-memory GitHub: the error mapping, without clusters. */
interface Recorded {
  lines: string[];
  annotations: { level: string; message: string; where?: Annotation }[];
  outputs: Record<string, string>;
  secrets: string[];
  summary: string;
  failed: string[];
}

function recordingIO(): { io: ActionIO; rec: Recorded } {
  const rec: Recorded = { lines: [], annotations: [], outputs: {}, secrets: [], summary: '', failed: [] };
  const io: ActionIO = {
    info: (m) => void rec.lines.push(m),
    debug: (m) => void rec.lines.push(`debug: ${m}`),
    warning: (message, where) => void rec.annotations.push({ level: 'warning', message, where }),
    error: (message, where) => void rec.annotations.push({ level: 'error', message, where }),
    setOutput: (name, value) => void (rec.outputs[name] = value),
    setSecret: (s) => {
      rec.secrets.push(s);
      // Masking must come first: nothing may have been said before.
      expect(rec.lines.length + rec.annotations.length + Object.keys(rec.outputs).length).toBe(0);
    },
    appendSummary: async (markdown) => void (rec.summary += markdown),
    setFailed: (m) => void rec.failed.push(m),
  };
  return { io, rec };
}

function memoryGitHub(): GitHubApi & { comments: IssueComment[] } {
  const comments: IssueComment[] = [];
  return {
    comments,
    async *commentPages() {
      yield comments;
    },
    async createComment(_issue, body) {
      const c = { id: comments.length + 1, body, user: { login: 'github-actions[bot]', type: 'Bot' } };
      comments.push(c);
      return c;
    },
    async updateComment(id, body) {
      const c = comments.find((x) => x.id === id)!;
      c.body = body;
      return c;
    },
    viewerLogin: async () => undefined,
    lastCommitTouching: async () => undefined,
    pullRequestsOfCommit: async () => [],
  };
}

const canary = 'Canary-InProcess-55aa';
const dir = mkdtempSync(join(tmpdir(), 'mlm-run-'));
const eventPath = join(dir, 'event.json');
writeFileSync(eventPath, JSON.stringify({ number: 12, pull_request: { number: 12 } }));
const env = {
  SOURCE_URI: `mongodb://u:${canary}@127.0.0.1:1/?replicaSet=rs0`,
  DESTINATION_URI: 'mongodb://127.0.0.1:2/',
  GITHUB_WORKSPACE: process.cwd(),
  GITHUB_EVENT_NAME: 'pull_request',
  GITHUB_EVENT_PATH: eventPath,
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: '77',
  RUNNER_TEMP: dir,
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('run()', () => {
  it('a broken config: masked first, annotated on file and line, reported in the comment, exit 2', async () => {
    const { io, rec } = recordingIO();
    const github = memoryGitHub();
    const code = await run({ env, io, readInput: (n) => ({ command: 'validate', config: 'test/fixtures/configs/broken.yaml', 'github-token': 'ghs_x' })[n] ?? '', github: () => github, signal: new AbortController().signal });
    expect(code).toBe(2);
    expect(rec.secrets).toEqual(['ghs_x', canary]);
    expect(rec.annotations).toContainEqual({ level: 'error', message: expect.stringContaining('batchSize') as string, where: { title: 'migration configuration', file: 'test/fixtures/configs/broken.yaml', startLine: 8, startColumn: expect.any(Number) as number } });
    expect(rec.outputs['exit-code']).toBe('2');
    expect(rec.failed[0]).toContain('test/fixtures/configs/broken.yaml:8');
    expect(github.comments).toHaveLength(1);
    expect(github.comments[0]!.body.startsWith('<!-- mongo-live-migrate:comment migration=broken -->')).toBe(true);
    expect(rec.summary).toContain('fix the configuration');
    expect(JSON.stringify({ ...rec, secrets: [] })).not.toContain(canary);
  });

  it('a bad input fails the step with the message, and no comment', async () => {
    const { io, rec } = recordingIO();
    const github = memoryGitHub();
    const code = await run({ env, io, readInput: (n) => ({ command: 'validate', comment: 'maybe' })[n] ?? '', github: () => github, signal: new AbortController().signal });
    expect(code).toBe(2);
    expect(rec.failed).toEqual(['input "comment" "maybe" is not a boolean: expected true or false']);
    expect(github.comments).toHaveLength(0);
  });

  it('comment: false writes only the summary', async () => {
    const { io, rec } = recordingIO();
    const github = memoryGitHub();
    await run({ env, io, readInput: (n) => ({ command: 'validate', config: 'test/fixtures/configs/broken.yaml', comment: 'false', 'github-token': 'ghs_x' })[n] ?? '', github: () => github, signal: new AbortController().signal });
    expect(github.comments).toHaveLength(0);
    expect(rec.summary).toContain('Migration `broken`');
  });
});
