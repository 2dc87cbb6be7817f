/**
 * Decides where the integration tests get real MongoDB from, in the order the project promises:
 *   1. URIs in the environment (MLM_TEST_SOURCE_URI, MLM_TEST_DESTINATION_URI, MLM_TEST_RS3_URI);
 *   2. a mongod binary (MLM_MONGOD, PATH, or the one scripts/provision-mongodb.sh provisioned);
 *   3. a container runtime, through testcontainers;
 *   4. otherwise a loud failure that says what to install. Nothing is ever skipped.
 */
import { findMongod } from '../../src/local/find-mongod.js';

export type ClusterMode = 'environment' | 'mongod' | 'container';

export function describeNoMongo(): string {
  return [
    'Integration tests need a real MongoDB replica set and none could be started:',
    '  - no MLM_TEST_SOURCE_URI / MLM_TEST_DESTINATION_URI in the environment,',
    '  - no mongod binary (MLM_MONGOD, PATH, or the provisioned one: run `npm run provision`),',
    '  - no working container runtime for testcontainers.',
    'Run `npm test` (it provisions MongoDB itself) or install MongoDB 6.0+ and retry.',
  ].join('\n');
}

export function pickMode(env: NodeJS.ProcessEnv): { mode: ClusterMode; mongod?: string } {
  const mongod = findMongod(env);
  if (env.MLM_TEST_SOURCE_URI && env.MLM_TEST_DESTINATION_URI) return { mode: 'environment', mongod };
  if (mongod) return { mode: 'mongod', mongod };
  return { mode: 'container' };
}
