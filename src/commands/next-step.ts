import type { Config } from '../config/types.js';
import type { MigrationDoc } from '../engine/index.js';

/** The exact command that moves the migration forward from where it stands. */
export function nextStepFor(config: Config, doc: MigrationDoc, ready: boolean): string {
  const base = `mongo-live-migrate`;
  const file = `--config ${config.file}`;
  switch (doc.phase) {
    case 'created':
    case 'validated':
    case 'syncing':
      return `${base} sync ${file}`;
    case 'tailing':
      return ready ? `${base} cutover ${file} --confirm ${config.name}` : `${base} tail ${file}`;
    case 'cutting-over':
      return `${base} cutover ${file} --confirm ${config.name}`;
    case 'committed':
      return 'point the applications at the destination';
    case 'failed':
      return doc.resyncRequired ? `${base} abort ${file} --confirm ${config.name} --drop-destination, then sync again` : `${base} status ${file} (see the error), then rerun the failed command`;
    case 'aborted':
      return 'start a new migration (new name) when ready';
  }
}
