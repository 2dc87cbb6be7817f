import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the GitHub REST API, on 127.0.0.1, speaking the endpoints the action uses the way
 * GitHub does (status codes, Link pagination, the 65,536-character comment limit), and recording every
 * request with its body so that tests can assert on what left the process.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: string;
}

export interface FakeUser {
  login: string;
  type: 'Bot' | 'User';
}

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: FakeUser;
  created_at: string;
  updated_at: string;
}

export interface FakePull {
  number: number;
  state: 'open' | 'closed';
  merged_at: string | null;
}

/** The author GITHUB_TOKEN writes as. */
export const ACTIONS_BOT: FakeUser = { login: 'github-actions[bot]', type: 'Bot' };

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly comments: FakeComment[] = [];
  /** path → newest commit that changed it (GET /repos/{o}/{r}/commits?path=). */
  readonly commitsByPath = new Map<string, string>();
  /** sha → pull requests (GET /repos/{o}/{r}/commits/{sha}/pulls). */
  readonly pullsByCommit = new Map<string, FakePull[]>();
  /** The user GET /user answers with; undefined answers 403 as it does for GITHUB_TOKEN. */
  viewer: FakeUser | undefined;
  /** Who new comments are written by. */
  author: FakeUser = ACTIONS_BOT;
  private nextId = 1000;
  private server: Server | undefined;
  url = '';

  static async start(): Promise<FakeGitHub> {
    const fake = new FakeGitHub();
    fake.server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => fake.server?.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  addComment(issue: number, body: string, user: FakeUser): FakeComment {
    const at = new Date(Date.UTC(2026, 10, 1) + this.nextId * 1000).toISOString();
    const comment = { id: this.nextId++, issue, body, user, created_at: at, updated_at: at };
    this.comments.push(comment);
    return comment;
  }

  commentsOn(issue: number): FakeComment[] {
    return this.comments.filter((c) => c.issue === issue);
  }

  /** Requests that wrote something (POST, PATCH, PUT, DELETE). */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, authorization: req.headers.authorization, body });
    const send = (status: number, data: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(data));
    };
    if (!req.headers.authorization) return send(401, { message: 'Requires authentication' });
    const route = `${req.method} ${url.pathname}`;
    let m: RegExpExecArray | null;

    if (route === 'GET /user') {
      return this.viewer ? send(200, { login: this.viewer.login, type: this.viewer.type }) : send(403, { message: 'Resource not accessible by integration' });
    }
    if ((m = /^GET \/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(route))) {
      const all = this.commentsOn(Number(m[1]));
      const perPage = Math.min(100, Number(query.per_page ?? 30));
      const page = Math.max(1, Number(query.page ?? 1));
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const links: string[] = [];
      const link = (p: number, rel: string): string => {
        const u = new URL(url.href);
        u.searchParams.set('page', String(p));
        u.searchParams.set('per_page', String(perPage));
        return `<${u.href}>; rel="${rel}"`;
      };
      if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
      if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
      return send(200, all.slice((page - 1) * perPage, page * perPage).map(toApi), links.length ? { link: links.join(', ') } : {});
    }
    if ((m = /^POST \/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(route))) {
      const text = parseBody(body);
      if (text === undefined) return send(422, { message: 'Validation Failed', errors: [{ field: 'body', code: 'missing_field' }] });
      if (text.length > 65_536) return send(422, { message: 'Validation Failed', errors: [{ message: 'Body is too long (maximum is 65536 characters)' }] });
      return send(201, toApi(this.addComment(Number(m[1]), text, this.author)));
    }
    if ((m = /^PATCH \/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(route))) {
      const comment = this.comments.find((c) => c.id === Number(m?.[1]));
      if (!comment) return send(404, { message: 'Not Found' });
      const text = parseBody(body);
      if (text === undefined) return send(422, { message: 'Validation Failed' });
      if (text.length > 65_536) return send(422, { message: 'Validation Failed', errors: [{ message: 'Body is too long (maximum is 65536 characters)' }] });
      if (comment.user.login !== this.author.login) return send(403, { message: 'You cannot edit this comment' });
      comment.body = text;
      comment.updated_at = new Date().toISOString();
      return send(200, toApi(comment));
    }
    if ((m = /^GET \/repos\/[^/]+\/[^/]+\/commits$/.exec(route))) {
      const sha = this.commitsByPath.get(query.path ?? '');
      return send(200, sha ? [{ sha, commit: { message: 'change migration' } }] : []);
    }
    if ((m = /^GET \/repos\/[^/]+\/[^/]+\/commits\/([0-9a-f]+)\/pulls$/.exec(route))) {
      return send(200, this.pullsByCommit.get(m[1] ?? '') ?? []);
    }
    send(404, { message: `Not Found (the fake GitHub does not speak ${route})` });
  }
}

function parseBody(raw: string): string | undefined {
  try {
    const value = JSON.parse(raw) as { body?: unknown };
    return typeof value.body === 'string' ? value.body : undefined;
  } catch {
    return undefined;
  }
}

function toApi(c: FakeComment): Record<string, unknown> {
  return { id: c.id, body: c.body, user: { login: c.user.login, type: c.user.type }, created_at: c.created_at, updated_at: c.updated_at, html_url: `https://github.com/o/r/issues/${c.issue}#issuecomment-${c.id}` };
}
