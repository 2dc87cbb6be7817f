import type { IndexSpec } from '../mongo/introspection.js';
import { fieldsOf } from '../mongo/ordered-decode.js';
import { canonical } from '../mongo/canonical.js';
import { fail, listSome, pass, plural, type Check, type Finding } from './types.js';

/** Index options no supported destination (6.0+) accepts, and why. */
const REJECTED_OPTIONS: Record<string, string> = {
  bucketSize: 'geoHaystack option, removed in 5.0',
  dropDups: 'removed in 3.0',
  safe: 'not an index option since 2.6',
};

export interface IndexProblem {
  namespace: string;
  index: string;
  problem: string;
}

/** Pure: problems of one collection's indexes on a destination of the given major version. */
export function indexProblems(namespace: string, indexes: IndexSpec[], destinationMajor: number): IndexProblem[] {
  const problems: IndexProblem[] = [];
  const byKey = new Map<string, IndexSpec[]>();
  for (const index of indexes) {
    const keyText = canonical(index.key);
    byKey.set(keyText, [...(byKey.get(keyText) ?? []), index]);
    const types = fieldsOf(index.key).map(([, type]) => type);
    if (types.includes('geoHaystack') && destinationMajor >= 5) problems.push({ namespace, index: index.name, problem: 'geoHaystack index: removed in MongoDB 5.0, the destination rejects it' });
    for (const [option, why] of Object.entries(REJECTED_OPTIONS)) {
      if (index[option] !== undefined) problems.push({ namespace, index: index.name, problem: `option ${option} (${why})` });
    }
    if (index.v === 0) problems.push({ namespace, index: index.name, problem: 'index version v:0 (not accepted since 3.2)' });
  }
  for (const [keyText, same] of byKey) {
    // The engine builds unique indexes non-unique during the sync (replay sees transient duplicates); a
    // non-unique index on the same key (and collation) would then be a duplicate and the build fails.
    const collations = new Set(same.map((i) => canonical(i.collation ?? null)));
    const unique = same.filter((i) => i.unique === true);
    const nonUnique = same.filter((i) => i.unique !== true);
    if (unique.length && nonUnique.length && collations.size < same.length) {
      problems.push({ namespace, index: `${unique.map((i) => i.name).join(',')} + ${nonUnique.map((i) => i.name).join(',')}`, problem: `a unique and a non-unique index on the same key ${keyText}` });
    }
  }
  return problems;
}

export function assessIndexes(problems: IndexProblem[], indexCount: number): Finding {
  if (problems.length === 0) return pass(`${plural(indexCount, 'index', 'indexes')} checked: every one can be built on the destination`);
  const sameKey = problems.some((p) => p.problem.startsWith('a unique and a non-unique'));
  return fail(
    `${plural(problems.length, 'index problem')}: ${listSome(problems.map((p) => `${p.namespace} ${p.index}: ${p.problem}`))}`,
    [
      sameKey ? 'drop the non-unique index where a unique index on the same key exists (the unique one serves the same queries)' : '',
      problems.some((p) => !p.problem.startsWith('a unique')) ? 'drop or rebuild the listed indexes without the rejected kind or option (a 2dsphere index replaces geoHaystack)' : '',
    ].filter(Boolean).join('; '),
  );
}

export const indexesCheck: Check = {
  id: 'indexes.compatible',
  title: 'Indexes the destination accepts',
  needs: ['source', 'destination'],
  async run(context) {
    const major = (await context.facts.buildInfo('destination')).versionArray[0] ?? 0;
    const problems: IndexProblem[] = [];
    let count = 0;
    for (const n of await context.facts.includedNamespaces()) {
      if (n.info.type !== 'collection') continue;
      const indexes = await context.facts.indexes('source', n.db, n.coll);
      count += indexes.length;
      problems.push(...indexProblems(`${n.db}.${n.coll}`, indexes, major));
    }
    return assessIndexes(problems, count);
  },
};
