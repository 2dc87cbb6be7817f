import { describe, expect, it } from 'vitest';
import { NamespaceFilter, type DatabaseCondition } from '../../src/namespaces.js';

/** What the server does with a condition on a database name (undefined: every database). */
function meets(condition: DatabaseCondition | undefined, db: string): boolean {
  if (!condition) return true;
  return '$in' in condition ? condition.$in.includes(db) : new RegExp(condition.$regex).test(db);
}

/** Every destination database the migration writes meets the condition; others' databases do not. */
describe('NamespaceFilter.targetDatabaseCondition', () => {
  const matcher = (include: string[], rename: Record<string, string> = {}): ((db: string) => boolean) => {
    const condition = new NamespaceFilter({ include, exclude: [], rename }).targetDatabaseCondition();
    return (db) => meets(condition, db);
  };

  it('literal databases, renamed databases and renamed collections: exact names, no pattern', () => {
    const rules = { include: ['shop.*', 'crm.users', 'logs.*'], exclude: [], rename: { logs: 'logs_v2', 'crm.users': 'people.users' } };
    expect(new NamespaceFilter(rules).targetDatabaseCondition()).toEqual({ $in: ['shop', 'crm', 'logs_v2', 'people'] });
    const matches = matcher(rules.include, rules.rename);
    for (const db of ['shop', 'crm', 'logs_v2', 'people']) expect(matches(db), db).toBe(true);
    for (const db of ['logs', 'shopping', 'xshop', 'other', 'people2']) expect(matches(db), db).toBe(false);
  });

  it('wildcards stay wildcards within a database name; regex characters and renamed names are literal', () => {
    const matches = matcher(['app_?.*', 'tenant*.orders', 'a+b.*', 'old.*'], { old: 'n*w' });
    for (const db of ['app_1', 'tenant', 'tenant42', 'a+b', 'n*w']) expect(matches(db), db).toBe(true);
    for (const db of ['app_12', 'app1', 'aab', 'xtenant', 'old', 'nw', 'naw']) expect(matches(db), db).toBe(false);
  });

  it('a rule for every database sets no condition', () => {
    expect(new NamespaceFilter({ include: ['*.*'], exclude: [], rename: { a: 'b' } }).targetDatabaseCondition()).toBeUndefined();
  });
});

/** Every source database the migration reads meets the condition (what mayIncludeDatabase says yes to). */
describe('NamespaceFilter.sourceDatabaseCondition', () => {
  it('agrees with mayIncludeDatabase on literal, wildcard and renamed databases', () => {
    const filter = new NamespaceFilter({ include: ['shop.*', 'crm.users', 'app_?.*', 'tenant*.orders', 'a+b.*'], exclude: ['shop.tmp'], rename: { shop: 'shop_v2' } });
    for (const db of ['shop', 'crm', 'app_1', 'tenant', 'tenant42', 'a+b', 'shop_v2', 'shopping', 'app_12', 'aab', 'other', 'admin']) {
      expect(meets(filter.sourceDatabaseCondition(), db), db).toBe(filter.mayIncludeDatabase(db));
    }
  });

  it('exact names when every rule names its database: the cheap filter for the source (bench/README.md)', () => {
    const filter = new NamespaceFilter({ include: ['shop.*', 'crm.users', 'shop.orders'], exclude: [], rename: { shop: 'shop_v2' } });
    expect(filter.sourceDatabaseCondition()).toEqual({ $in: ['shop', 'crm'] });
    expect(new NamespaceFilter({ include: ['*.*'], exclude: [], rename: {} }).sourceDatabaseCondition()).toBeUndefined();
  });
});
