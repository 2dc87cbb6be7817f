import { commandSpecs } from '../commands/index.js';

export function usage(version: string): string {
  const commands = [...commandSpecs().map((c) => ({ name: c.name, summary: c.impl ? c.summary : `${c.summary} (not built yet)` })), { name: 'demo', summary: 'a whole migration between two local replica sets, with a live writer (no --config)' }];
  const width = Math.max(...commands.map((c) => c.name.length));
  return `mongo-live-migrate ${version}: live-migrate a MongoDB replica set to another

Usage: mongo-live-migrate <command> --config <migration.yaml> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -c, --config <file>        migration file (default: migration.yaml)
      --json                 print the result as JSON on stdout
      --log-level <level>    trace, debug, info, warn, error, fatal or silent (default: info)
      --confirm <name>       cutover: the migration's name, typed to confirm
      --max-duration <d>     tail: how long this run lasts (e.g. 45m; default tail.maxDuration)
      --drop-destination     abort: also remove what the migration created on the destination
      --force-takeover       take the migration over from a runner whose lease has not expired
      --applications-stopped cutover with writeBlock none: you confirm the applications are stopped
      --keep                 rehearse: keep the staging destination afterwards
      --docs <n>             demo: documents to seed (default 120000); --max-duration sets its tail slice
  -h, --help                 this help
  -V, --version              the version

Exit codes: 0 success, 1 an operation or a check failed, 2 usage or configuration error.
`;
}
