import type { NamespaceRules } from '../config/types.js';
import { NamespaceFilter, ns, type Namespace } from '../namespaces.js';
import { fail, listSome, pass, plural, warn, type Check, type Finding } from './types.js';

const WILDCARD = /[*?]/;

/** Pure: include patterns that select nothing, colliding rename targets, rules that cancel each other. */
export function assessNamespaces(rules: NamespaceRules, namespaces: Namespace[]): Finding {
  const filter = new NamespaceFilter(rules);
  const problems: string[] = [];
  const warnings: string[] = [];
  const included = namespaces.filter((n) => filter.includes(n.db, n.coll));

  const unmatched = filter.unmatchedIncludes(namespaces.filter((n) => !n.coll.startsWith('system.')));
  if (unmatched.length) problems.push(`include pattern${unmatched.length > 1 ? 's' : ''} ${unmatched.map((p) => `"${p}"`).join(', ')} match${unmatched.length > 1 ? '' : 'es'} no source collection`);

  const byTarget = new Map<string, string[]>();
  for (const n of included) {
    const t = filter.target(n.db, n.coll);
    const key = ns(t.db, t.coll);
    byTarget.set(key, [...(byTarget.get(key) ?? []), ns(n.db, n.coll)]);
  }
  const collisions = [...byTarget].filter(([, sources]) => sources.length > 1).map(([t, sources]) => `${sources.join(' and ')} → ${t}`);
  if (collisions.length) problems.push(`rename targets collide: ${listSome(collisions)}`);

  // An exact include (no wildcard) removed by an exclude is almost certainly an accident.
  const exclusion = new NamespaceFilter({ include: rules.exclude, exclude: [], rename: {} });
  for (const pattern of rules.include) {
    if (WILDCARD.test(pattern)) continue;
    const dot = pattern.indexOf('.');
    if (exclusion.includes(pattern.slice(0, dot), pattern.slice(dot + 1))) warnings.push(`"${pattern}" is included by name but also excluded`);
  }
  for (const key of Object.keys(rules.rename)) {
    if (key.includes('.')) {
      const dot = key.indexOf('.');
      if (!filter.includes(key.slice(0, dot), key.slice(dot + 1))) warnings.push(`rename of "${key}" has no effect: it is not included${exclusion.includes(key.slice(0, dot), key.slice(dot + 1)) ? ' (an exclude removes it)' : ''}`);
    } else if (!included.some((n) => n.db === key)) {
      warnings.push(`rename of database "${key}" has no effect: nothing of it is included`);
    }
  }
  if (problems.length) return fail([...problems, ...warnings].join('; '), 'fix namespaces in migration.yaml: correct the pattern (globs on database.collection), or give each source its own rename target');
  if (warnings.length) return warn(warnings.join('; '), 'remove the contradicting rule from namespaces in migration.yaml, or the rename entry that no longer applies');
  return pass(`${plural(rules.include.length, 'include pattern')} select ${plural(included.length, 'namespace')}; every pattern matches, no rename targets collide`);
}

export const namespacesCheck: Check = {
  id: 'namespaces.rules',
  title: 'Include, exclude and rename rules',
  needs: ['source'],
  run: async (context) => assessNamespaces(context.config.namespaces, (await context.facts.sourceNamespaces()).map((n) => ({ db: n.db, coll: n.coll }))),
};
