import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where scripts/provision-mongodb.sh puts its wrapper (MLM_CACHE_DIR overrides the cache). */
export function provisionedMongodPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.MLM_CACHE_DIR ?? join(homedir(), '.cache', 'mongo-live-migrate');
  return join(cache, 'bin', 'mongod');
}

/** MLM_MONGOD, then a mongod on PATH, then the provisioned wrapper; undefined when none is runnable. */
export function findMongod(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env.MLM_MONGOD,
    ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'mongod')),
    provisionedMongodPath(env),
  ];
  return candidates.find((path) => path !== undefined && isExecutable(path));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
