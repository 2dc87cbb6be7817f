import type { MongoClient } from 'mongodb';
import { UserError } from '../errors.js';

/**
 * Which replica set a client talks to. `replicaSetId` (replSetGetConfig's settings.replicaSetId) is chosen at
 * replSetInitiate and never changes: it survives elections, member changes, host renames and restarts, which
 * a host list or a process id does not. The set name is the fallback where replSetGetConfig is refused (the
 * destination's least-privilege roles do not grant it); it is weaker, since two sets may share a name.
 */
export interface ClusterIdentity {
  setName?: string;
  replicaSetId?: string;
}

export async function readClusterIdentity(client: MongoClient): Promise<ClusterIdentity> {
  const hello = await client.db('admin').command({ hello: 1 });
  const identity: ClusterIdentity = {};
  if (typeof hello.setName === 'string') identity.setName = hello.setName;
  try {
    const { config } = await client.db('admin').command({ replSetGetConfig: 1 });
    const id = (config as { settings?: { replicaSetId?: { toHexString(): string } } }).settings?.replicaSetId;
    if (id) identity.replicaSetId = id.toHexString();
  } catch {
    // Not authorized (or not a replica set member, e.g. mongos): the set name alone identifies it.
  }
  return identity;
}

/** True unless the two identities prove different clusters (an unknown field proves nothing). */
export function sameCluster(recorded: ClusterIdentity, current: ClusterIdentity): boolean {
  if (recorded.replicaSetId && current.replicaSetId) return recorded.replicaSetId === current.replicaSetId;
  if (recorded.setName && current.setName) return recorded.setName === current.setName;
  return true;
}

export function describeCluster(identity: ClusterIdentity): string {
  const name = identity.setName ? `replica set "${identity.setName}"` : 'a cluster';
  return identity.replicaSetId ? `${name} (replicaSetId ${identity.replicaSetId})` : name;
}

/**
 * Refuses a configuration whose source (or destination) is not the cluster the migration was started on.
 * Such a run would read the wrong cluster's oplog with the saved position (a false "no longer in the source
 * oplog"), or copy nothing and call it done.
 */
export function assertSameClusters(name: string, recorded: { source?: ClusterIdentity; destination?: ClusterIdentity }, current: { source: ClusterIdentity; destination: ClusterIdentity }): void {
  for (const side of ['source', 'destination'] as const) {
    const was = recorded[side];
    if (!was || sameCluster(was, current[side])) continue;
    throw new UserError(
      `migration "${name}" belongs to the ${side} ${describeCluster(was)}, but the configured ${side} is ${describeCluster(current[side])}; nothing was changed`,
      `point ${side}.uri at the cluster the migration was started on, or give this configuration another name (a new migration)`,
    );
  }
}
