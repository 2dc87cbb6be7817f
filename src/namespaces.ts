import type { NamespaceRules } from './config/types.js';

/** The database that holds migration state on the destination; never copied, never allowed on the source. */
export const STATE_DB = '__mongo_live_migrate';
/** The temporary collections of $out and $merge. */
const AGG_OUT_PREFIX = 'tmp.agg_out.';
/** Databases that are never user data. */
export const SYSTEM_DBS: ReadonlySet<string> = new Set(['admin', 'local', 'config', STATE_DB]);

export interface Namespace {
  db: string;
  coll: string;
}

export function ns(db: string, coll: string): string {
  return `${db}.${coll}`;
}

export function splitNamespace(namespace: string): Namespace {
  const dot = namespace.indexOf('.');
  return { db: namespace.slice(0, dot), coll: namespace.slice(dot + 1) };
}

/** Glob on database.collection: `*` any run of characters except '.', `?` one character. */
function globToRegExp(glob: string): RegExp {
  const [dbPart = '', collPart = ''] = [glob.slice(0, glob.indexOf('.')), glob.slice(glob.indexOf('.') + 1)];
  const convert = (part: string, star: string): string =>
    part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, star).replace(/\?/g, '.');
  // In the collection part '*' may cross dots: "shop.*" must match "shop.orders.archive".
  return new RegExp(`^${convert(dbPart, '[^.]*')}\\.${convert(collPart, '.*')}$`);
}

/**
 * Decides which source namespaces move and what they are called on the destination. One instance is the
 * single source of truth for data, indexes, views and change events alike.
 */
export class NamespaceFilter {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  constructor(readonly rules: NamespaceRules) {
    this.include = rules.include.map(globToRegExp);
    this.exclude = rules.exclude.map(globToRegExp);
  }

  /** Whether a source collection (or view) is part of the migration. */
  includes(db: string, coll: string): boolean {
    if (SYSTEM_DBS.has(db) || coll.startsWith('system.')) return false;
    // $out and $merge write into a temporary collection and rename it over their target: in a database the
    // migration covers, follow it (its rename then moves the result in, or out of, the migration's scope).
    if (coll.startsWith(AGG_OUT_PREFIX)) return this.mayIncludeDatabase(db);
    const name = ns(db, coll);
    return this.include.some((r) => r.test(name)) && !this.exclude.some((r) => r.test(name));
  }

  /** Whether any collection of this database could be included (for database-level events). */
  mayIncludeDatabase(db: string): boolean {
    if (SYSTEM_DBS.has(db)) return false;
    return this.rules.include.some((glob) => globToRegExp(`${glob.slice(0, glob.indexOf('.'))}.x`).test(`${db}.x`));
  }

  /** The destination namespace of an included source namespace. */
  target(db: string, coll: string): Namespace {
    const exact = this.rules.rename[ns(db, coll)];
    if (exact) return splitNamespace(exact);
    const dbRename = this.rules.rename[db];
    return { db: dbRename ?? db, coll };
  }

  /**
   * The `viewOn` a view needs on the destination: a view reads a collection of its own database by name, so
   * it follows that collection's rename when both end up in the same target database.
   */
  viewOnTarget(sourceDb: string, viewOn: string, targetDb: string): string {
    if (!this.includes(sourceDb, viewOn)) return viewOn;
    const on = this.target(sourceDb, viewOn);
    return on.db === targetDb ? on.coll : viewOn;
  }

  /**
   * A condition on a database name that every source database the migration reads meets (and perhaps a few more):
   * for a server-side filter on a source whose other databases may be far busier than the migrated ones. Literal
   * names where the rules name databases literally: filtered by a regular expression, the stream cost the source
   * 1.6–1.9x the CPU per change event (bench/README.md); undefined when a rule takes every database.
   */
  sourceDatabaseCondition(): DatabaseCondition | undefined {
    return databaseCondition(this.rules.include.map((glob) => ({ glob: glob.slice(0, glob.indexOf('.')) })));
  }

  /**
   * A condition on a database name that every destination database the migration writes meets (and perhaps a few
   * more): for a server-side filter on a destination that holds other applications' databases too.
   */
  targetDatabaseCondition(): DatabaseCondition | undefined {
    const databases: DatabaseName[] = this.rules.include.map((glob) => {
      const db = glob.slice(0, glob.indexOf('.'));
      return /[*?]/.test(db) ? { glob: db } : { literal: this.rules.rename[db] ?? db };
    });
    // Renamed databases and collections land where their rules say, whatever pattern included them.
    for (const [from, to] of Object.entries(this.rules.rename)) databases.push({ literal: from.includes('.') ? splitNamespace(to).db : to });
    return databaseCondition(databases);
  }

  /** Which include patterns matched nothing among the given namespaces (a likely typo). */
  unmatchedIncludes(namespaces: Namespace[]): string[] {
    return this.rules.include.filter((glob) => {
      const re = globToRegExp(glob);
      return !namespaces.some((n) => re.test(ns(n.db, n.coll)));
    });
  }
}

/** A query condition on a database name: exact names, or a pattern when a rule has wildcards. */
export type DatabaseCondition = { $in: string[] } | { $regex: string };

/** A database as a rule names it: a glob (`*`, `?`), or a name taken as it is (a rename's target). */
type DatabaseName = { glob: string } | { literal: string };

/** The condition a set of databases makes; undefined when one of them is a bare `*` (every database). */
function databaseCondition(databases: DatabaseName[]): DatabaseCondition | undefined {
  if (databases.some((d) => 'glob' in d && /^\*+$/.test(d.glob))) return undefined;
  const wildcard = (d: DatabaseName): boolean => 'glob' in d && /[*?]/.test(d.glob);
  const nameOf = (d: DatabaseName): string => ('glob' in d ? d.glob : d.literal);
  if (!databases.some(wildcard)) return { $in: [...new Set(databases.map(nameOf))] };
  const alternatives = new Set(databases.map((d) => (wildcard(d) ? databaseGlobPattern(nameOf(d)) : escapeRegExp(nameOf(d)))));
  return { $regex: `^(?:${[...alternatives].join('|')})$` };
}

const escapeRegExp = (text: string): string => text.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');

/** A database-name glob (`*` any run of characters, `?` one) as a regular expression body. */
function databaseGlobPattern(glob: string): string {
  return escapeRegExp(glob).replace(/\\\*/g, '[^.]*').replace(/\\\?/g, '.');
}
