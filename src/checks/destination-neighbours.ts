import type { MongoClient } from 'mongodb';
import { ns, STATE_DB } from '../namespaces.js';
import type { Facts } from './facts.js';
import { listSome, pass, plural, warn, type Check } from './types.js';

/**
 * Namespaces that already live in the databases the migration writes to and are not its targets: another
 * migration's (named when its state is on this destination) or an application's. Not a problem — the
 * migration never touches or judges them — but worth knowing before two tenants share a database.
 */
export async function destinationNeighbours(facts: Facts, destination: MongoClient, migration: string): Promise<string[]> {
  const included = await facts.includedNamespaces();
  const targets = new Set(included.map((n) => ns(n.target.db, n.target.coll)));
  const databases = new Set(await facts.databases('destination'));
  const owners = await otherMigrations(destination, migration);
  const found: string[] = [];
  for (const db of [...new Set(included.map((n) => n.target.db))].sort()) {
    if (db === STATE_DB || !databases.has(db)) continue;
    for (const info of [...(await facts.collections('destination', db))].sort((x, y) => x.name.localeCompare(y.name))) {
      const name = ns(db, info.name);
      if (info.name.startsWith('system.') || targets.has(name)) continue;
      const owner = owners.get(name);
      found.push(owner ? `${name} (migration "${owner}")` : name);
    }
  }
  return found;
}

/** Target namespace → name of the other migration on this destination that created it. */
async function otherMigrations(destination: MongoClient, migration: string): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  try {
    const docs = await destination.db(STATE_DB).collection<{ _id: string; collections?: { target: string }[] }>('migrations').find({ _id: { $ne: migration } }, { projection: { 'collections.target': 1 } }).toArray();
    for (const doc of docs) for (const c of doc.collections ?? []) owners.set(c.target, doc._id);
  } catch {
    // No state database or no right to read it: the namespaces are listed without their owner.
  }
  return owners;
}

export const destinationNeighboursCheck: Check = {
  id: 'destination.neighbours',
  title: 'Other namespaces in the target databases',
  needs: ['source', 'destination'],
  async run(context) {
    const found = await destinationNeighbours(context.facts, context.facts.client('destination'), context.config.name);
    if (!found.length) return pass('the target databases hold nothing but this migration\'s targets');
    return warn(
      `${plural(found.length, 'other namespace')} already live${found.length === 1 ? 's' : ''} in the target databases: ${listSome(found, 5)}; the migration neither touches nor verifies them`,
      'nothing to do if they belong there (another migration or the new application); otherwise give this migration its own database (namespaces.rename)',
    );
  },
};
