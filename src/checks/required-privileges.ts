import type { Config } from '../config/types.js';
import type { Side } from '../mongo/connect.js';

/**
 * The privileges the migration needs on each side, what needs them, and the least built-in roles that grant
 * them. The README quotes this table. Roles were read from a real 7.0.15 server (rolesInfo with
 * showPrivileges) and proven by the integration tests, which create users holding exactly these roles.
 *
 * Resources:
 * - cluster: the cluster resource ({cluster: true}).
 * - anyDatabase: every non-system collection of every database ({db: "", collection: ""}); a cluster-wide
 *   change stream needs its actions on exactly this resource — per-database grants do not open one.
 * - included: each source collection the migration includes.
 * - targets: each destination collection the migration writes.
 * - oplog: local.oplog.rs.
 * - state: the migration's state database on the destination.
 */
export type RequiredResource = 'cluster' | 'anyDatabase' | 'included' | 'targets' | 'oplog' | 'state';

export interface RequiredPrivilege {
  side: Side;
  resource: RequiredResource;
  actions: string[];
  /** What the migration does with them. */
  purpose: string;
  /** The least built-in role that grants them (on admin). */
  role: string;
  /** Only when the configuration asks for what needs it. */
  when?: (config: Config) => boolean;
}

export const REQUIRED_PRIVILEGES: readonly RequiredPrivilege[] = [
  { side: 'source', resource: 'cluster', actions: ['listDatabases'], purpose: 'list the databases to migrate', role: 'readAnyDatabase' },
  { side: 'source', resource: 'anyDatabase', actions: ['find', 'changeStream'], purpose: 'open the cluster-wide change stream', role: 'readAnyDatabase' },
  { side: 'source', resource: 'included', actions: ['find', 'listCollections', 'listIndexes', 'collStats'], purpose: 'read included collections, their options, indexes and sizes', role: 'readAnyDatabase' },
  { side: 'source', resource: 'oplog', actions: ['find'], purpose: 'read the oplog window (first and last entries of local.oplog.rs), and the renames and drops the primary holds alone while the copy is planned or runs', role: 'clusterMonitor' },
  { side: 'source', resource: 'cluster', actions: ['setUserWriteBlockMode'], purpose: 'block source writes at cutover (cutover.writeBlock: source)', role: 'backup', when: (c) => c.cutover.writeBlock === 'source' },
  { side: 'destination', resource: 'cluster', actions: ['listDatabases'], purpose: 'find existing destination collections', role: 'readWriteAnyDatabase' },
  { side: 'destination', resource: 'targets', actions: ['find', 'insert', 'update', 'remove', 'createCollection', 'createIndex', 'dropCollection', 'listCollections', 'listIndexes'], purpose: 'create and write the migrated collections and their indexes', role: 'readWriteAnyDatabase' },
  { side: 'destination', resource: 'targets', actions: ['collMod', 'bypassDocumentValidation'], purpose: 'copy documents past validators and restore relaxed indexes (collMod)', role: 'dbAdminAnyDatabase' },
  { side: 'destination', resource: 'state', actions: ['find', 'insert', 'update', 'remove', 'createCollection', 'createIndex'], purpose: 'keep the migration state in __mongo_live_migrate', role: 'readWriteAnyDatabase' },
];

/** The roles to grant on one side for a configuration, least first. */
export function requiredRoles(side: Side, config: Config): string[] {
  const roles = REQUIRED_PRIVILEGES.filter((p) => p.side === side && (!p.when || p.when(config))).map((p) => p.role);
  return [...new Set(roles)];
}
