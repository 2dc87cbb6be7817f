import { REQUIRED_PRIVILEGES } from '../../src/checks/required-privileges.js';

/** The README's "Privileges" table, rendered from src/checks/required-privileges.ts (the module the check and the least-privilege test use). */
export function renderPrivileges(): string {
  const rows = new Map<string, { side: string; role: string; actions: Set<string>; purposes: string[] }>();
  for (const p of REQUIRED_PRIVILEGES) {
    const key = `${p.side}/${p.role}`;
    const row = rows.get(key) ?? { side: p.side, role: p.role, actions: new Set<string>(), purposes: [] };
    p.actions.forEach((a) => row.actions.add(a));
    row.purposes.push(p.purpose);
    rows.set(key, row);
  }
  return [
    '| side | built-in role (on `admin`) | actions it grants that the migration uses | what for |',
    '| --- | --- | --- | --- |',
    ...[...rows.values()].map((r) => `| ${r.side} | \`${r.role}\` | ${[...r.actions].join(', ')} | ${r.purposes.join('; ')} |`),
  ].join('\n');
}
