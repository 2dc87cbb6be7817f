import type { SourceNamespace } from './facts.js';
import { fail, listSome, pass, plural, warn, type Check, type Finding } from './types.js';

export type Support = 'supported' | 'unsupported' | 'not-copied';

/** Pure: whether the engine carries a collection faithfully, and why not. */
export function classifyCollection(n: Pick<SourceNamespace, 'coll' | 'info'>): { support: Support; kind: string; reason?: string } {
  const { info } = n;
  if (info.type === 'timeseries') return { support: 'unsupported', kind: 'time-series', reason: 'time-series collections are not supported by the engine (their buckets cannot be copied or replayed faithfully)' };
  if (n.coll.startsWith('system.')) return { support: 'not-copied', kind: 'system', reason: 'system collections are never copied' };
  if (info.options.encryptedFields) return { support: 'unsupported', kind: 'queryable-encryption', reason: 'Queryable Encryption collections need their key vault and metadata collections, which are not migrated' };
  if (info.type === 'view') return { support: 'supported', kind: 'view' };
  if (info.type !== 'collection') return { support: 'unsupported', kind: info.type, reason: `collection type "${info.type}" is unknown to the engine` };
  if (info.options.clusteredIndex) return { support: 'supported', kind: 'clustered' };
  if (info.options.capped) return { support: 'supported', kind: 'capped' };
  if (info.options.collation) return { support: 'supported', kind: 'collation' };
  return { support: 'supported', kind: 'collection' };
}

/** Pure: the finding over every source namespace in an included database. */
export function assessCollectionKinds(namespaces: SourceNamespace[], mayInclude: (db: string) => boolean, matchesPattern: (db: string, coll: string) => boolean): Finding {
  const unsupported: string[] = [];
  const reasons = new Set<string>();
  const system: string[] = [];
  const kinds = new Map<string, number>();
  for (const n of namespaces) {
    const name = `${n.db}.${n.coll}`;
    const c = classifyCollection(n);
    if (c.support === 'not-copied') {
      // Only those a user may have expected: in a migrated database and matching an include pattern.
      // system.views is how views are stored (views are migrated); time-series buckets are reported
      // through their collection.
      if (n.coll === 'system.views' || n.coll.startsWith('system.buckets.')) continue;
      if (mayInclude(n.db) && matchesPattern(n.db, n.coll)) system.push(name);
      continue;
    }
    if (!n.included) continue;
    if (c.support === 'unsupported') {
      unsupported.push(`${name} (${c.kind})`);
      if (c.reason) reasons.add(c.reason);
      continue;
    }
    kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  }
  const summary = [...kinds].map(([k, v]) => `${v} ${k}`).join(', ') || 'nothing';
  if (unsupported.length) {
    return fail(
      `${plural(unsupported.length, 'included collection')} cannot be migrated faithfully: ${listSome(unsupported)}; ${[...reasons].join('; ')}`,
      `exclude them (namespaces.exclude: [${unsupported.slice(0, 3).map((u) => `"${u.split(' ')[0]}"`).join(', ')}]) and move them another way (mongodump/mongorestore during the cutover window), or convert a time-series collection to a regular one`,
    );
  }
  if (system.length) return warn(`supported: ${summary}; not copied: ${plural(system.length, 'system collection')} (${listSome(system)})`, 'system collections (for example system.js stored functions) are never copied: recreate what you need on the destination');
  return pass(`all included namespaces are supported: ${summary} (views, capped, clustered and collation collections are carried with their options)`);
}

export const collectionKindsCheck: Check = {
  id: 'collections.supported',
  title: 'Collections the engine can carry',
  needs: ['source'],
  async run(context) {
    const all = await context.facts.sourceNamespaces();
    // Does an include pattern select this namespace? (NamespaceFilter.includes rejects system.* outright.)
    const matches = (db: string, coll: string): boolean => context.filter.unmatchedIncludes([{ db, coll }]).length < context.filter.rules.include.length;
    return assessCollectionKinds(all, (db) => context.filter.mayIncludeDatabase(db), matches);
  },
};
