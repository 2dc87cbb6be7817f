import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { MongoClient } from 'mongodb';
import { LocalReplicaSet, type LocalReplicaSetOptions } from '../../src/local/replica-set.js';
import type { SharedClusters } from './global-setup.js';

export function sharedClusters(): SharedClusters {
  return inject('clusters');
}

/** A unique suffix so that test files sharing one replica set never touch each other's databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(3).toString('hex')}`;
}

/**
 * Starts a replica set of the test's own (auth on, a standalone, one to kill -9...). Needs a mongod binary:
 * with only environment URIs or containers, the test fails and says why (it never skips).
 */
export async function startOwnCluster(options: Omit<LocalReplicaSetOptions, 'mongod' | 'baseDir'>): Promise<LocalReplicaSet> {
  const { mongod, baseDir } = sharedClusters();
  if (!mongod) throw new Error('this test starts replica sets of its own and needs a mongod binary: run `npm run provision` or set MLM_MONGOD');
  return LocalReplicaSet.start({ ...options, name: uniqueName(options.name), mongod, baseDir });
}

/** A client that the test closes in afterAll. */
export async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 15_000 });
  await client.connect();
  return client;
}

/** Clients of the shared source and destination for one describe block; closed after it, whatever happened. */
export interface SharedClients {
  source: MongoClient;
  destination: MongoClient;
}

/**
 * Registers the connect (beforeAll) and the close (afterAll) of the shared clusters' clients; the returned
 * object holds them once the block's tests run.
 */
export function useSharedClients(): SharedClients {
  const clients = {} as SharedClients;
  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    clients.source = await connect(sourceUri);
    clients.destination = await connect(destinationUri);
  });
  afterAll(async () => {
    await clients.source?.close();
    await clients.destination?.close();
  });
  return clients;
}

/** A source replica set of the block's own, with clients of it and of the shared destination. */
export interface OwnSource extends SharedClients {
  cluster: LocalReplicaSet;
}

/**
 * Registers the start of a source replica set of the block's own (a write block or a step-down would hit
 * every other test's source) and the connects (beforeAll), and the closes and the stop (afterAll, whatever
 * happened). The returned object holds them once the block's tests run; a block's own afterAll, registered
 * after this, runs before it (writers stop before their clients close).
 */
export function useOwnSource(options: Omit<LocalReplicaSetOptions, 'mongod' | 'baseDir'>): OwnSource {
  const own = {} as OwnSource;
  beforeAll(async () => {
    own.cluster = await startOwnCluster(options);
    own.source = await connect(own.cluster.uri);
    own.destination = await connect(sharedClusters().destinationUri);
  });
  afterAll(async () => {
    await own.source?.close();
    await own.destination?.close();
    await own.cluster?.stop();
  });
  return own;
}
