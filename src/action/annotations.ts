import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import type { ConfigProblem } from '../config/index.js';
import type { CommandOutcome } from '../model.js';
import type { ActionIO } from './io.js';

/**
 * A broken migration.yaml, shown where the reviewer looks: one error annotation per problem on its file and
 * line (GitHub draws them on the diff), and an outcome listing them for the summary and the PR comment.
 */
export function annotateConfigProblems(io: ActionIO, problems: ConfigProblem[], workspace: string): void {
  for (const p of problems) {
    io.error(p.message + (p.pointer ? ` (at ${p.pointer})` : ''), { title: 'migration configuration', file: repoPath(p.file, workspace), startLine: p.line, startColumn: p.column });
  }
}

export function configErrorOutcome(command: string, problems: ConfigProblem[], workspace: string): CommandOutcome {
  return {
    command,
    exitCode: 2,
    summary: `${problems.length} problem${problems.length === 1 ? '' : 's'} in the configuration`,
    checks: problems.map((p) => ({
      id: 'config',
      title: 'Configuration',
      status: 'fail' as const,
      message: `\`${repoPath(p.file, workspace)}:${p.line}:${p.column}\` ${p.message}${p.pointer ? ` (at \`${p.pointer}\`)` : ''}`,
    })),
  };
}

/** A path as GitHub wants it in annotations and API calls: relative to the repository root, with slashes. */
export function repoPath(file: string, workspace: string): string {
  const absolute = isAbsolute(file) ? file : resolve(workspace, file);
  const rel = relative(workspace, absolute);
  return (rel.startsWith('..') ? absolute : rel).split(sep).join('/');
}

/**
 * The migration's name from a file that failed validation, read leniently, so the PR comment of the
 * migration still shows its problems. Undefined when even that is not there.
 */
export function readMigrationName(file: string): string | undefined {
  try {
    const name: unknown = parseDocument(readFileSync(file, 'utf8')).get('name');
    return typeof name === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}
