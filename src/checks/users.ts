import { countUsersAndRoles } from '../mongo/introspection.js';
import { pass, plural, warn, type Check, type Finding } from './types.js';

/** Pure: users and roles live in admin.system.* and are not migrated; say so when there are any. */
export function assessUsers(counts: { users: number; roles: number } | null): Finding {
  const remedy = 'users and roles are not migrated: create them on the destination before cutover (mongosh: db.createUser / db.createRole; Atlas: Database Access → Add New Database User / Custom Roles)';
  if (!counts) return warn('could not count users and roles on the source (needs viewUser and viewRole, e.g. role userAdminAnyDatabase); they are not migrated in any case', remedy);
  if (counts.users === 0 && counts.roles === 0) return pass('the source has no users and no user-defined roles (they would not be migrated)');
  return warn(`the source has ${plural(counts.users, 'user')} and ${plural(counts.roles, 'user-defined role')}; they are not migrated`, remedy);
}

export const usersCheck: Check = {
  id: 'source.users',
  title: 'Users and roles (not migrated)',
  needs: ['source'],
  run: async (context) => assessUsers(await countUsersAndRoles(context.facts.client('source')).catch(() => null)),
};
