import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { MongoClient } from 'mongodb';
import { StateStore } from '../../src/engine/state/store.js';
import { LocalReplicaSet } from '../../src/local/replica-set.js';
import { describeNoMongo, pickMode } from './cluster-sources.js';

export interface SharedClusters {
  mode: string;
  /** One-member replica set used as the source by most tests (each test uses its own databases). */
  sourceUri: string;
  /** One-member replica set used as the destination. */
  destinationUri: string;
  /** Three-member replica set for elections. */
  rs3Uri: string;
  /** A mongod binary tests may use to start clusters of their own (auth, standalone, kill -9). */
  mongod: string | undefined;
  /** Parent directory for those clusters' data. */
  baseDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    clusters: SharedClusters;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const baseDir = join(process.env.MLM_TEST_DATA_DIR ?? tmpdir(), `mlm-test-${process.pid}`);
  mkdirSync(baseDir, { recursive: true });
  const { mode, mongod } = pickMode(process.env);
  const started: LocalReplicaSet[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  let clusters: SharedClusters;
  const t0 = Date.now();

  if (mode === 'environment') {
    clusters = {
      mode,
      sourceUri: process.env.MLM_TEST_SOURCE_URI!,
      destinationUri: process.env.MLM_TEST_DESTINATION_URI!,
      rs3Uri: process.env.MLM_TEST_RS3_URI ?? process.env.MLM_TEST_SOURCE_URI!,
      mongod,
      baseDir,
    };
  } else if (mode === 'mongod') {
    const sets = await Promise.all([
      LocalReplicaSet.start({ name: 'shared-src', mongod: mongod!, baseDir }),
      LocalReplicaSet.start({ name: 'shared-dst', mongod: mongod!, baseDir }),
      LocalReplicaSet.start({ name: 'shared-rs3', mongod: mongod!, baseDir, members: 3 }),
    ]);
    started.push(...sets);
    const [src, dst, rs3] = sets as [LocalReplicaSet, LocalReplicaSet, LocalReplicaSet];
    clusters = { mode, sourceUri: src.uri, destinationUri: dst.uri, rs3Uri: rs3.uri, mongod, baseDir };
    await prepareStateDatabase(dst.uri);
  } else {
    clusters = await startContainers(baseDir, stops);
  }
  console.log(`[integration] MongoDB from ${mode}: source, destination and a 3-member set ready in ${Date.now() - t0} ms`);
  project.provide('clusters', clusters);

  return async () => {
    await Promise.all([...started.map((s) => s.stop()), ...stops.map((stop) => stop())]);
    rmSync(baseDir, { recursive: true, force: true });
  };
}

/**
 * Test files run in parallel against the shared destination and each would create the state collections
 * on first use: create them once here, since concurrent creation of one namespace crashes mongod under Wine.
 */
async function prepareStateDatabase(uri: string): Promise<void> {
  const client = new MongoClient(uri);
  try {
    await new StateStore(client, 'global-setup').ensureSchema();
  } finally {
    await client.close();
  }
}

/** Third choice: the official image through testcontainers, where a container runtime exists. */
async function startContainers(baseDir: string, stops: (() => Promise<unknown>)[]): Promise<SharedClusters> {
  try {
    const { MongoDBContainer } = await import('@testcontainers/mongodb');
    const containers = await Promise.all([0, 1, 2].map(() => new MongoDBContainer('mongo:7.0').start()));
    for (const c of containers) stops.push(() => c.stop());
    const uri = (i: number): string => `${containers[i]!.getConnectionString()}/?directConnection=true`;
    return { mode: 'container', sourceUri: uri(0), destinationUri: uri(1), rs3Uri: uri(2), mongod: undefined, baseDir };
  } catch (error) {
    throw new Error(`${describeNoMongo()}\n(testcontainers said: ${(error as Error).message})`);
  }
}
