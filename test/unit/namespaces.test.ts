import { describe, expect, it } from 'vitest';
import { NamespaceFilter } from '../../src/namespaces.js';

/** Every destination database the migration writes matches the pattern; others' databases do not. */
describe('NamespaceFilter.targetDatabasePattern', () => {
  const matcher = (include: string[], rename: Record<string, string> = {}): ((db: string) => boolean) => {
    const pattern = new RegExp(new NamespaceFilter({ include, exclude: [], rename }).targetDatabasePattern());
    return (db) => pattern.test(db);
  };

  it('literal databases, renamed databases and renamed collections', () => {
    const matches = matcher(['shop.*', 'crm.users', 'logs.*'], { logs: 'logs_v2', 'crm.users': 'people.users' });
    for (const db of ['shop', 'crm', 'logs_v2', 'people']) expect(matches(db), db).toBe(true);
    for (const db of ['logs', 'shopping', 'xshop', 'other', 'people2']) expect(matches(db), db).toBe(false);
  });

  it('wildcards stay wildcards within a database name; regex characters are literal', () => {
    const matches = matcher(['app_?.*', 'tenant*.orders', 'a+b.*']);
    for (const db of ['app_1', 'tenant', 'tenant42', 'a+b']) expect(matches(db), db).toBe(true);
    for (const db of ['app_12', 'app1', 'aab', 'xtenant']) expect(matches(db), db).toBe(false);
  });
});

/** Every source database the migration reads matches the pattern (what mayIncludeDatabase says yes to). */
describe('NamespaceFilter.sourceDatabasePattern', () => {
  it('agrees with mayIncludeDatabase on literal, wildcard and renamed databases', () => {
    const filter = new NamespaceFilter({ include: ['shop.*', 'crm.users', 'app_?.*', 'tenant*.orders', 'a+b.*'], exclude: ['shop.tmp'], rename: { shop: 'shop_v2' } });
    const pattern = new RegExp(filter.sourceDatabasePattern());
    for (const db of ['shop', 'crm', 'app_1', 'tenant', 'tenant42', 'a+b', 'shop_v2', 'shopping', 'app_12', 'aab', 'other', 'admin']) {
      expect(pattern.test(db), db).toBe(filter.mayIncludeDatabase(db));
    }
  });
});
