import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { locate } from '../config/locate.js';
import type { Config, NamespaceRules } from '../config/types.js';
import { ns } from '../namespaces.js';
import type { BuildInfo } from '../mongo/introspection.js';
import type { SourceNamespace } from './facts.js';
import { fail, listSome, pass, plural, type Check, type Finding } from './types.js';

export interface NamespaceLimits {
  /** Longest "db.collection" in bytes. */
  namespaceBytes: number;
  /** Longest database name in bytes. */
  databaseBytes: number;
}

/**
 * The destination's name limits. Since featureCompatibilityVersion 4.4 a namespace may be 255 bytes (120
 * before); a database name is at most 63 bytes on every version. The engine needs 6.0+, so only the older
 * limit's floor matters for servers the version check already fails.
 */
export function namespaceLimits(destination: BuildInfo): NamespaceLimits {
  const [major = 0, minor = 0] = destination.versionArray;
  const modern = major > 4 || (major === 4 && minor >= 4);
  return { namespaceBytes: modern ? 255 : 120, databaseBytes: 63 };
}

/** The rename rule that names a source namespace's target (a collection rule wins over a database rule). */
function renameKey(rules: NamespaceRules, n: { db: string; coll: string }): string | undefined {
  if (rules.rename[ns(n.db, n.coll)] !== undefined) return ns(n.db, n.coll);
  if (rules.rename[n.db] !== undefined) return n.db;
  return undefined;
}

/** Pure: target names that the destination would refuse, each with the rename rule that makes it. */
export function assessNamespaceLimits(rules: NamespaceRules, included: Pick<SourceNamespace, 'db' | 'coll' | 'target'>[], limits: NamespaceLimits, where: (renameKey: string) => string = (k) => `namespaces.rename "${k}"`): Finding {
  const tooLong: string[] = [];
  const rulesAt = new Set<string>();
  for (const n of included) {
    const target = ns(n.target.db, n.target.coll);
    const dbBytes = Buffer.byteLength(n.target.db);
    const nsBytes = Buffer.byteLength(target);
    if (dbBytes <= limits.databaseBytes && nsBytes <= limits.namespaceBytes) continue;
    const key = renameKey(rules, n);
    if (key !== undefined) rulesAt.add(where(key));
    const what = dbBytes > limits.databaseBytes ? `database name ${dbBytes} bytes > ${limits.databaseBytes}` : `${nsBytes} bytes > ${limits.namespaceBytes}`;
    tooLong.push(`${short(target)} (${what}, from ${ns(n.db, n.coll)})`);
  }
  if (!tooLong.length) return pass(`${plural(included.length, 'target namespace')} within the destination's limits (database ${limits.databaseBytes} bytes, database.collection ${limits.namespaceBytes} bytes)`);
  return fail(
    `${plural(tooLong.length, 'target namespace')} longer than the destination allows: ${listSome(tooLong)}${rulesAt.size ? `; made by ${[...rulesAt].join(', ')}` : ''}`,
    `shorten the rename target${rulesAt.size ? ` at ${[...rulesAt].join(', ')}` : 's (namespaces.rename)'} so that every database name is at most ${limits.databaseBytes} bytes and every "database.collection" at most ${limits.namespaceBytes} bytes`,
  );
}

function short(name: string): string {
  return name.length > 60 ? `${name.slice(0, 40)}…${name.slice(-12)}` : name;
}

/** "namespaces.rename "k" (migration.yaml:12:5)" when the file can be read again; the rule's name otherwise. */
function configLocator(config: Config): (key: string) => string {
  let text: string | undefined;
  try {
    text = readFileSync(config.file, 'utf8');
  } catch {
    // An embedded configuration (no file): the rule's name is location enough.
  }
  if (text === undefined) return (key) => `namespaces.rename "${key}"`;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  return (key) => {
    const { line, column } = locate(doc, lines, `/namespaces/rename/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    return `namespaces.rename "${key}" (${config.file}:${line}:${column})`;
  };
}

export const namespaceLimitsCheck: Check = {
  id: 'destination.namespace-limits',
  title: 'Target names fit the destination',
  needs: ['source', 'destination'],
  async run(context) {
    const limits = namespaceLimits(await context.facts.buildInfo('destination'));
    return assessNamespaceLimits(context.config.namespaces, await context.facts.includedNamespaces(), limits, configLocator(context.config));
  },
};
