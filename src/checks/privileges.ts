import { STATE_DB } from '../namespaces.js';
import type { Side } from '../mongo/connect.js';
import { connectionPrivileges, listDatabaseNames, type Privilege } from '../mongo/introspection.js';
import { REQUIRED_PRIVILEGES, requiredRoles, type RequiredResource } from './required-privileges.js';
import { fail, listSome, pass, type Check, type CheckContext, type Finding } from './types.js';

/** A concrete thing a privilege is checked against. */
export type Target = { kind: 'cluster' } | { kind: 'anyDatabase' } | { kind: 'namespace'; db: string; coll: string };

/**
 * Whether a granted resource covers a target, following MongoDB's resource patterns:
 * {db:"",collection:""} covers every non-system collection outside local and config; {db:X,collection:""}
 * every non-system collection of X; {db:"",collection:C} C in any database; anyResource everything.
 */
export function resourceCovers(granted: Privilege['resource'], target: Target): boolean {
  if (granted.anyResource) return true;
  if (target.kind === 'cluster') return granted.cluster === true;
  if (granted.cluster || granted.system_buckets !== undefined || granted.db === undefined || granted.collection === undefined) return false;
  if (target.kind === 'anyDatabase') return granted.db === '' && granted.collection === '';
  const system = target.coll.startsWith('system.');
  const special = target.db === 'local' || target.db === 'config';
  if (granted.db === '' && granted.collection === '') return !system && !special;
  if (granted.collection === '') return granted.db === target.db && !system;
  if (granted.db === '') return granted.collection === target.coll;
  return granted.db === target.db && granted.collection === target.coll;
}

export function isGranted(privileges: Privilege[], action: string, target: Target): boolean {
  return privileges.some((p) => p.actions.includes(action) && resourceCovers(p.resource, target));
}

export interface Missing {
  action: string;
  on: string;
  role: string;
  purpose: string;
}

/** Pure: which required privileges the granted ones lack, given the concrete namespaces of the migration. */
export function missingPrivileges(
  side: Side,
  privileges: Privilege[],
  resources: Record<RequiredResource, Target[]>,
  applies: (requirement: (typeof REQUIRED_PRIVILEGES)[number]) => boolean,
): Missing[] {
  const missing: Missing[] = [];
  for (const requirement of REQUIRED_PRIVILEGES) {
    if (requirement.side !== side || !applies(requirement)) continue;
    // Actions of one requirement lacking on the same resources are reported together: one line per need.
    const grouped = new Map<string, string[]>();
    for (const action of requirement.actions) {
      const lacking = resources[requirement.resource].filter((t) => !isGranted(privileges, action, t));
      if (lacking.length) {
        const on = listSome(lacking.map(describeTarget), 2);
        grouped.set(on, [...(grouped.get(on) ?? []), action]);
      }
    }
    for (const [on, actions] of grouped) missing.push({ action: actions.join(', '), on, role: requirement.role, purpose: requirement.purpose });
  }
  return missing;
}

function describeTarget(target: Target): string {
  if (target.kind === 'cluster') return 'the cluster';
  if (target.kind === 'anyDatabase') return 'every database';
  return `${target.db}.${target.coll}`;
}

async function resourcesFor(side: Side, context: CheckContext): Promise<Record<RequiredResource, Target[]>> {
  const included = side === 'source' ? await context.facts.includedNamespaces().catch(() => []) : [];
  const nsTargets = included.map((n) => ({ kind: 'namespace' as const, db: n.db, coll: n.coll }));
  const targets = included.map((n) => ({ kind: 'namespace' as const, db: n.target.db, coll: n.target.coll }));
  return {
    cluster: [{ kind: 'cluster' }],
    anyDatabase: [{ kind: 'anyDatabase' }],
    included: nsTargets,
    targets,
    oplog: [{ kind: 'namespace', db: 'local', coll: 'oplog.rs' }],
    state: [{ kind: 'namespace', db: STATE_DB, coll: 'migrations' }],
  };
}

export function privilegesCheck(side: Side): Check {
  return {
    id: `${side}.privileges`,
    title: `${side === 'source' ? 'Source' : 'Destination'} user privileges`,
    needs: side === 'destination' ? ['source', 'destination'] : ['source'],
    async run(context): Promise<Finding> {
      const client = context.facts.client(side);
      const status = await connectionPrivileges(client);
      const roles = requiredRoles(side, context.config);
      if (status.users.length === 0) {
        // No user: either access control is off (everything allowed) or the connection is unauthenticated.
        const open = await listDatabaseNames(client, { authorizedDatabases: false }).then(() => true, () => false);
        if (open) return pass(`access control is off on the ${side}: every action is allowed (a production ${side} should use a user with ${roles.join(' + ')})`);
        return fail(`the connection to the ${side} is not authenticated and access control is on`, `put a user with roles ${roles.join(', ')} in the ${side} connection string`);
      }
      // The destination writes to the renamed targets of the source's included collections.
      const resources = await resourcesFor(side === 'destination' ? 'source' : side, context);
      const missing = missingPrivileges(side, status.privileges, resources, (r) => !r.when || r.when(context.config));
      const who = status.users.map((u) => `${u.user}@${u.db}`).join(', ');
      if (missing.length === 0) {
        return pass(`${who} holds every privilege the migration needs on the ${side} (roles: ${status.roles.map((r) => `${r.role}@${r.db}`).join(', ') || 'none'})`);
      }
      const grant = [...new Set(missing.map((m) => m.role))];
      const first = status.users[0]!;
      return fail(
        `${who} lacks ${missing.map((m) => `${m.action} on ${m.on} (to ${m.purpose}; role ${m.role})`).join('; ')}`,
        `grant the built-in role${grant.length > 1 ? 's' : ''} ${grant.join(', ')}: db.getSiblingDB("${first.db}").grantRolesToUser("${first.user}", [${grant.map((r) => `{role: "${r}", db: "admin"}`).join(', ')}]) (Atlas: Database Access → edit user)`,
      );
    },
  };
}
