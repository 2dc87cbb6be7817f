import { plural } from '../format.js';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlias, isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { STATE_DB } from '../namespaces.js';
import { registerUriSecrets } from '../redact.js';
import { parseDuration } from './duration.js';
import { hasLiteralPassword, substituteEnv } from './env-substitution.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { locate } from './locate.js';
import { describeSchemaError, validateAgainstSchema } from './schema-validator.js';
import type { Config } from './types.js';
import { errorMessage } from '../errors.js';

/** A migration.yaml larger than this is a mistake (or an attack), not a migration. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** More problems than this are summarised: a file of 50,000 unknown keys needs no 50,000 lines of errors. */
const MAX_PROBLEMS = 50;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

export function loadConfigFile(file: string, options: LoadOptions = {}): Config {
  let size: number;
  let text: string;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) {
      throw new ConfigError([problemAtStart(file, `this is a directory; --config takes a migration file, for example ${join(file, 'migration.yaml')}`)]);
    }
    size = stat.size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError([problemAtStart(file, `the file is ${size} bytes; a migration file is at most ${MAX_CONFIG_BYTES} bytes`)]);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Every file-system failure is the user's path or permissions: one located line, exit 2, never a stack.
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([problemAtStart(file, code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read the file (${code ?? 'error'})`)]);
  }
  return parseConfig(text, file, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const lines = new LineCounter();
  // Duplicate keys are found below: yaml's own uniqueKeys check compares every pair of keys of a mapping,
  // so a 250 KB file of keys took 10 s and a 1 MB one minutes (found by the configuration fuzz test).
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: true, strict: true });
  const problems: ConfigProblem[] = [];
  const at = (pointer: string, message: string, key = false): void => {
    problems.push({ file, pointer, message, ...locate(doc, lines, pointer, key) });
  };
  const position = (node: unknown): { line: number; column: number } => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    const pos = lines.linePos(range?.[0] ?? 0);
    return { line: pos.line, column: pos.col };
  };

  // Warnings too: an unknown tag (!foo x) or a bad !!int would otherwise be read silently as some other value.
  for (const error of [...doc.errors, ...doc.warnings]) {
    const pos = error.linePos?.[0] ?? { line: 1, col: 1 };
    problems.push({ file, line: pos.line, column: pos.col, pointer: '', message: firstLine(error.message) });
  }
  if (!problems.length) findDuplicateKeys(doc, (node) => problems.push({ file, ...position(node), pointer: '', message: 'Map keys must be unique' }));
  if (problems.length) throw new ConfigError(capped(byPosition(problems)));
  if (doc.contents === null) throw new ConfigError([problemAtStart(file, 'the file is empty; expected a mapping with version, name, source and destination')]);

  checkLiteralPasswords(doc, at);
  substituteAll(doc, env, at);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // An alias to an anchor that is not set (yet), or an alias bomb: yaml throws without a position, so
    // point at the first alias, where the trouble starts.
    let first: unknown;
    visit(doc, { Alias: (_key, node) => ((first = node), visit.BREAK) });
    throw new ConfigError([{ file, ...position(first), pointer: '', message: `${firstLine(errorMessage(error))}; an alias (*name) must follow its anchor (&name), and at most 100 aliases are allowed` }]);
  }
  // ajv reports an error per unknown key: locating each is linear in the mapping, so cap the count first.
  // A value already reported (say, an unset variable) would only repeat itself as a schema error; several
  // schema errors at one pointer (every missing required key of a mapping) are all kept.
  const reportedBefore = new Set(problems.map((p) => p.pointer));
  for (const error of validateAgainstSchema(value).slice(0, MAX_PROBLEMS * 4)) {
    const { pointer, key, message } = describeSchemaError(error);
    if (!reportedBefore.has(pointer) && !problems.some((p) => p.pointer === pointer && p.message === message)) at(pointer, message, key);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  if (problems.length) throw new ConfigError(capped(byPosition(problems)));

  const raw = value as RawConfig;
  const maxDurationMs = parseDuration(raw.tail.maxDuration) ?? 0;
  if (maxDurationMs <= 0) at('/tail/maxDuration', 'expected a duration longer than zero');
  checkRenames(raw.namespaces.rename, at);
  checkUriSchemes(raw, at);
  if (problems.length) throw new ConfigError(byPosition(problems));

  registerUriSecrets(raw.source.uri);
  registerUriSecrets(raw.destination.uri);
  return {
    version: 1,
    name: raw.name,
    file,
    hash: configHash(raw),
    source: { uri: raw.source.uri },
    destination: { uri: raw.destination.uri },
    namespaces: raw.namespaces,
    sync: raw.sync,
    tail: { maxDurationMs, batchSize: raw.tail.batchSize },
    cutover: raw.cutover,
    report: raw.report,
  };
}

/** The shape ajv guarantees after validation with defaults. */
interface RawConfig {
  name: string;
  source: { uri: string };
  destination: { uri: string };
  namespaces: Config['namespaces'];
  sync: Config['sync'];
  tail: { maxDuration: string; batchSize: number };
  cutover: Config['cutover'];
  report: Config['report'];
}

type Report = (pointer: string, message: string, key?: boolean) => void;

function checkLiteralPasswords(doc: Document, at: Report): void {
  for (const side of ['source', 'destination'] as const) {
    const node = doc.getIn([side, 'uri'], true);
    if (isScalar(node) && typeof node.value === 'string' && hasLiteralPassword(node.value)) {
      const variable = side === 'source' ? 'SOURCE_URI' : 'DESTINATION_URI';
      at(`/${side}/uri`, `${side}.uri holds a password written in the file; keep secrets out of the repository: write \${${variable}} and set that environment variable (or a secret in GitHub)`);
    }
  }
}

function substituteAll(doc: Document, env: NodeJS.ProcessEnv, at: Report): void {
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const result = substituteEnv(node.value, env);
      if (result.ok) {
        node.value = result.value;
        return;
      }
      const pointer = pointerOf(path as readonly unknown[], node);
      at(pointer, result.problem);
    },
  });
}

/** Rebuilds the JSON pointer of a scalar from the visitor's ancestor path. */
function pointerOf(path: readonly unknown[], node: unknown): string {
  const segments: string[] = [];
  const chain = [...path, node];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1] as { items?: unknown[]; key?: unknown; value?: unknown };
    const child = chain[i];
    if (parent && 'key' in parent && 'value' in parent) {
      if (parent.key === child) return '/' + segments.join('/'); // a key, not a value
      continue;
    }
    if (parent?.items) {
      const index = parent.items.indexOf(child);
      const item = parent.items[index] as { key?: { value?: unknown } } | undefined;
      if (item && typeof item === 'object' && 'key' in item && item.key) segments.push(String(item.key.value));
      else segments.push(String(index));
    }
  }
  return segments.length ? '/' + segments.join('/') : '';
}

/**
 * The schema also admits "${NAME}" as a uri so that an editor accepts the file as written; after substitution
 * the value must be a connection string (a "$${NAME}" escape would otherwise slip through as a literal).
 */
function checkUriSchemes(raw: RawConfig, at: Report): void {
  for (const side of ['source', 'destination'] as const) {
    if (!/^mongodb(\+srv)?:\/\//.test(raw[side].uri)) at(`/${side}/uri`, 'expected a mongodb:// or mongodb+srv:// connection string');
  }
}

/** Problems in file order, as an editor lists them (the loader finds them pass by pass, not line by line). */
function byPosition(problems: ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
}

function checkRenames(rename: Record<string, string>, at: Report): void {
  const seen = new Map<string, string>();
  for (const [from, to] of Object.entries(rename)) {
    const pointer = `/namespaces/rename/${from.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (from.includes('.') !== to.includes('.')) {
      at(pointer, `rename "${from}" → "${to}": a database renames to a database and a collection to a collection`);
    }
    if (to.split('.')[0] === STATE_DB) at(pointer, `the database ${STATE_DB} is reserved for the migration state`);
    const earlier = seen.get(to);
    if (earlier) at(pointer, `"${from}" and "${earlier}" would both be renamed to "${to}"`);
    seen.set(to, from);
  }
}

/** Calls back with the second (and later) occurrence of a key in any mapping: linear time, a Set per mapping. */
function findDuplicateKeys(doc: Document, onDuplicate: (keyNode: unknown) => void): void {
  visit(doc, {
    Map(_key, map) {
      if (!isMap(map)) return;
      const seen = new Set<string>();
      for (const pair of map.items) {
        // Scalars compare by type and value, as yaml's own check does ("1" and 1 are different keys).
        const id = isScalar(pair.key) ? `${typeof pair.key.value}:${String(pair.key.value)}` : isAlias(pair.key) ? undefined : JSON.stringify(pair.key);
        if (id === undefined) continue;
        if (seen.has(id)) onDuplicate(pair.key);
        seen.add(id);
      }
    },
  });
}

function capped(problems: ConfigProblem[]): ConfigProblem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  const rest = problems.length - MAX_PROBLEMS;
  const last = problems[MAX_PROBLEMS]!;
  return [...problems.slice(0, MAX_PROBLEMS), { ...last, message: `and ${plural(rest, 'more problem')} (fix these first)` }];
}

function configHash(raw: RawConfig): string {
  const identity = { name: raw.name, namespaces: raw.namespaces };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

function problemAtStart(file: string, message: string): ConfigProblem {
  return { file, line: 1, column: 1, pointer: '', message };
}

/** yaml's messages repeat the position we already print: keep the sentence only. */
function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}
