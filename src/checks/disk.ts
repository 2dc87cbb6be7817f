import { STATE_DB } from '../namespaces.js';
import { fileSystemStats, type FsStats } from '../mongo/introspection.js';
import { formatBytes } from '../format.js';
import { fail, pass, warn, type Check, type Finding } from './types.js';

/** Headroom over the source's on-disk size: the change buffer, index builds and the journal need room too. */
export const DISK_FAIL_FACTOR = 1.2;
export const DISK_WARN_FACTOR = 2;

/** Pure: free space on the destination against what the source's included collections occupy on disk. */
export function assessDisk(needBytes: number, fs: FsStats | null): Finding {
  if (!fs) return warn(`the destination does not report its file-system size; the included data takes ${formatBytes(needBytes)} on the source's disk`, 'check the destination\'s storage yourself (Atlas: the cluster tier\'s disk size and auto-scaling)');
  const free = fs.fsTotalBytes - fs.fsUsedBytes;
  const facts = `destination free ${formatBytes(free)} of ${formatBytes(fs.fsTotalBytes)}; the included data and indexes take ${formatBytes(needBytes)} on the source's disk`;
  const remedy = `give the destination at least ${formatBytes(needBytes * DISK_WARN_FACTOR)} of free space (Atlas: a larger tier or disk auto-scaling)`;
  if (free < needBytes * DISK_FAIL_FACTOR) return fail(`${facts}: less than ${DISK_FAIL_FACTOR}× that`, remedy);
  if (free < needBytes * DISK_WARN_FACTOR) return warn(`${facts}: less than ${DISK_WARN_FACTOR}× that`, remedy);
  return pass(facts);
}

export const diskCheck: Check = {
  id: 'destination.disk',
  title: 'Destination disk space',
  needs: ['source', 'destination'],
  async run(context) {
    let need = 0;
    for (const n of await context.facts.includedNamespaces()) {
      if (n.info.type !== 'collection') continue;
      const s = await context.facts.sizes('source', n.db, n.coll);
      need += s.storageBytes + s.indexBytes;
    }
    const client = context.facts.client('destination');
    // The state database may not exist yet; any database on the same volume reports the same figures.
    const fs = (await fileSystemStats(client, STATE_DB).catch(() => null)) ?? (await fileSystemStats(client, 'admin').catch(() => null));
    return assessDisk(need, fs);
  },
};
