import { STATE_DB } from '../namespaces.js';
import { fail, listSome, pass, plural, warn, type Check } from './types.js';

/** Target collections that already hold documents: the copy would mix old and new data. */
export const destinationConflictsCheck: Check = {
  id: 'destination.conflicts',
  title: 'Destination collections are empty',
  needs: ['source', 'destination'],
  async run(context) {
    const client = context.facts.client('destination');
    const occupied: string[] = [];
    const included = await context.facts.includedNamespaces();
    for (const n of included) {
      const existing = await context.facts.destinationCollection(n.target.db, n.target.coll);
      if (!existing) continue;
      if (existing.type === 'view') {
        occupied.push(`${n.target.db}.${n.target.coll} (a view)`);
        continue;
      }
      const one = await client.db(n.target.db).collection(n.target.coll).findOne({}, { projection: { _id: 1 } });
      if (one) {
        const count = await client.db(n.target.db).collection(n.target.coll).estimatedDocumentCount();
        occupied.push(`${n.target.db}.${n.target.coll} (${plural(count, 'document')})`);
      }
    }
    if (occupied.length === 0) return pass(`none of the ${plural(included.length, 'target namespace')} holds data on the destination`);
    if (context.config.sync.dropDestination) {
      return warn(`${plural(occupied.length, 'target collection')} already hold data and will be dropped (sync.dropDestination: true): ${listSome(occupied)}`, 'make sure nothing else uses these collections: they are dropped before the copy');
    }
    return fail(
      `${plural(occupied.length, 'target collection')} already hold data on the destination: ${listSome(occupied)}`,
      'drop them on the destination, rename the targets (namespaces.rename), or set sync.dropDestination: true to have them dropped before the copy',
    );
  },
};

/** The reserved state database must not exist on the source (it would be copied into the state store). */
export const stateDatabaseCheck: Check = {
  id: 'source.state-database',
  title: 'Reserved database absent on the source',
  needs: ['source'],
  async run(context) {
    if (await context.facts.sourceHasStateDb()) {
      return fail(`the source has a database named ${STATE_DB}, reserved for the migration's state`, `the source was probably a destination of another migration: drop ${STATE_DB} on the source (db.getSiblingDB("${STATE_DB}").dropDatabase()) once that migration is finished`);
    }
    return pass(`the source has no ${STATE_DB} database`);
  },
};
