import { UUID, type Document, type FindCursor, type MongoClient, type Timestamp } from 'mongodb';
import type { CollectionProgress } from '../model.js';
import { decodeOrdered, type OrderedDocument } from './ordered-decode.js';

/**
 * Plain read-only questions to a cluster, shared by the pre-migration checks, the plan and the engine.
 * Each function is one server conversation over a connected MongoClient and returns plain data; none of
 * them swallows errors (callers decide whether a refusal is a finding or a failure).
 */

export interface HelloReply {
  /** Replica set name; absent on a standalone and on mongos. */
  setName?: string;
  /** "isdbgrid" on mongos. */
  msg?: string;
  isWritablePrimary?: boolean;
  hosts?: string[];
  maxWireVersion?: number;
  lastWriteDate?: Date;
  /** Wall time of the newest write a majority of the set holds (second precision, like lastWriteDate). */
  majorityWriteDate?: Date;
  arbiters?: string[];
}

export type Topology = 'replicaSet' | 'standalone' | 'mongos';

export async function hello(client: MongoClient, signal?: AbortSignal): Promise<HelloReply> {
  return toHello(await client.db('admin').command({ hello: 1 }, signal ? { signal } : {}));
}

/** Keeps the fields we reason about from a raw hello reply (also used on recorded replies). */
export function toHello(raw: Document): HelloReply {
  const lastWrite = raw.lastWrite as { lastWriteDate?: Date | string; majorityWriteDate?: Date | string } | undefined;
  return {
    setName: typeof raw.setName === 'string' ? raw.setName : undefined,
    msg: typeof raw.msg === 'string' ? raw.msg : undefined,
    isWritablePrimary: typeof raw.isWritablePrimary === 'boolean' ? raw.isWritablePrimary : undefined,
    hosts: Array.isArray(raw.hosts) ? (raw.hosts as string[]) : undefined,
    maxWireVersion: typeof raw.maxWireVersion === 'number' ? raw.maxWireVersion : undefined,
    lastWriteDate: lastWrite?.lastWriteDate ? new Date(lastWrite.lastWriteDate) : undefined,
    majorityWriteDate: lastWrite?.majorityWriteDate ? new Date(lastWrite.majorityWriteDate) : undefined,
    arbiters: Array.isArray(raw.arbiters) ? (raw.arbiters as string[]) : undefined,
  };
}

export function topologyOf(reply: HelloReply): Topology {
  if (reply.msg === 'isdbgrid') return 'mongos';
  return reply.setName ? 'replicaSet' : 'standalone';
}

/**
 * The time of the newest write the cluster holds (hello's lastWrite): `applied`, the primary's own last
 * write; `majority`, the newest one a majority has (what a majority read sees, and never rolled back).
 */
export async function lastWriteTime(client: MongoClient, which: 'applied' | 'majority'): Promise<Timestamp> {
  const raw = await client.db('admin').command({ hello: 1 });
  const lastWrite = raw.lastWrite as { opTime: { ts: Timestamp }; majorityOpTime: { ts: Timestamp } };
  return (which === 'majority' ? lastWrite.majorityOpTime : lastWrite.opTime).ts;
}

/** A command entry of the oplog: its time, `db.$cmd` namespace, collection UUID (when it names one) and command. */
export interface OplogCommand {
  ts: Timestamp;
  ns: string;
  ui?: unknown;
  o: Document;
}

/**
 * The primary's oplog command entries in (after, upTo] that match `match` (needs find on local): past the majority
 * point, what the primary has applied and a majority may not hold yet, which a failover can roll back.
 */
export function primaryOplogCommands(client: MongoClient, after: Timestamp, upTo: Timestamp, match: Document): FindCursor<OplogCommand> {
  return client
    .db('local')
    .collection<OplogCommand>('oplog.rs')
    // Local, from the primary: the client reads majority by default, which is what this looks past.
    .find({ ts: { $gt: after, $lte: upTo }, op: 'c', ...match }, { projection: { ts: 1, ns: 1, o: 1 }, readConcern: { level: 'local' }, readPreference: 'primary' });
}

/** The time of the oldest entry of local.oplog.rs (needs find on local); null when the oplog is empty. */
export async function firstOplogTime(client: MongoClient): Promise<Timestamp | null> {
  const first = await client.db('local').collection<{ ts: Timestamp }>('oplog.rs').find({}, { projection: { ts: 1 } }).sort({ $natural: 1 }).limit(1).next();
  return first?.ts ?? null;
}

export interface BuildInfo {
  version: string;
  /** [major, minor, patch, ...]. */
  versionArray: number[];
}

export async function buildInfo(client: MongoClient): Promise<BuildInfo> {
  return toBuildInfo(await client.db('admin').command({ buildInfo: 1 }));
}

export function toBuildInfo(raw: Document): BuildInfo {
  const version = String(raw.version ?? '0.0.0');
  const array = Array.isArray(raw.versionArray) ? (raw.versionArray as unknown[]).map(Number) : version.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return { version, versionArray: array };
}

/** featureCompatibilityVersion, e.g. "7.0". Needs getParameter on the cluster (clusterMonitor). */
export async function featureCompatibilityVersion(client: MongoClient): Promise<string> {
  const reply = await client.db('admin').command({ getParameter: 1, featureCompatibilityVersion: 1 });
  const fcv = reply.featureCompatibilityVersion as { version?: string; targetVersion?: string } | undefined;
  // During an upgrade or downgrade the reply carries a targetVersion: report it, it is itself a finding.
  return fcv?.targetVersion ? `${fcv.version ?? '?'}→${fcv.targetVersion}` : String(fcv?.version ?? 'unknown');
}

/** One privilege as connectionStatus/rolesInfo report it. */
export interface Privilege {
  resource: PrivilegeResource;
  actions: string[];
}

export interface PrivilegeResource {
  db?: string;
  collection?: string;
  cluster?: boolean;
  anyResource?: boolean;
  /** 7.0+: time-series buckets; never what we need. */
  system_buckets?: string;
}

export interface ConnectionPrivileges {
  users: { user: string; db: string }[];
  roles: { role: string; db: string }[];
  privileges: Privilege[];
}

export async function connectionPrivileges(client: MongoClient): Promise<ConnectionPrivileges> {
  const reply = await client.db('admin').command({ connectionStatus: 1, showPrivileges: true });
  const info = (reply.authInfo ?? {}) as { authenticatedUsers?: { user: string; db: string }[]; authenticatedUserRoles?: { role: string; db: string }[]; authenticatedUserPrivileges?: Privilege[] };
  return { users: info.authenticatedUsers ?? [], roles: info.authenticatedUserRoles ?? [], privileges: info.authenticatedUserPrivileges ?? [] };
}

export interface OplogBounds {
  first: Date;
  last: Date;
  /** Bytes the oplog holds now and may hold at most (collStats); null when not readable. */
  usedBytes: number | null;
  maxBytes: number | null;
}

/** The first and last entries of local.oplog.rs (needs find on local, e.g. clusterMonitor). */
export async function oplogBounds(client: MongoClient): Promise<OplogBounds | null> {
  const first = await firstOplogTime(client);
  const [last] = await client.db('local').collection<{ ts: Timestamp }>('oplog.rs').find({}, { projection: { ts: 1, _id: 0 }, sort: { $natural: -1 }, limit: 1 }).toArray();
  if (!first || !last) return null;
  let usedBytes: number | null = null;
  let maxBytes: number | null = null;
  try {
    const stats = await client.db('local').command({ collStats: 'oplog.rs' });
    usedBytes = Number(stats.size);
    maxBytes = Number(stats.maxSize);
  } catch {
    // sizes are a refinement of the window estimate; the bounds alone still answer the question
  }
  return { first: timestampDate(first), last: timestampDate(last.ts), usedBytes, maxBytes };
}

function timestampDate(ts: Timestamp): Date {
  return new Date(ts.getHighBits() * 1000);
}

/**
 * The names of the databases the connection may read. `authorizedDatabases`: a user without listDatabases on the
 * cluster still sees the databases it has privileges on; false makes the command fail for such a user instead
 * (how the privileges check tells an open server from an unauthenticated connection).
 */
export async function listDatabaseNames(client: MongoClient, options: { authorizedDatabases?: boolean } = {}): Promise<string[]> {
  const reply = await client.db('admin').command({ listDatabases: 1, nameOnly: true, authorizedDatabases: options.authorizedDatabases ?? true });
  return (reply.databases as { name: string }[]).map((d) => d.name);
}

/** One listCollections entry: the one reader of the catalog that checks, copy and verify share. */
export interface CollectionInfo {
  name: string;
  type: 'collection' | 'view' | 'timeseries' | string;
  options: Document;
  /** The collection's UUID (hex): it follows the collection through renames, unlike its name. Views have none. */
  uuid?: string;
}

/** What a listCollections entry is, in the model's terms (a time-series collection by its type or its options). */
export function collectionKind(info: Pick<CollectionInfo, 'type' | 'options'>): CollectionProgress['kind'] {
  if (info.type === 'view') return 'view';
  if (info.type === 'timeseries' || info.options.timeseries) return 'timeseries';
  if (info.options.capped) return 'capped';
  if (info.options.clusteredIndex) return 'clustered';
  return 'collection';
}

/**
 * Every collection and view of a database (or those `filter` picks); options decoded in stored field order
 * (see ordered-decode.ts).
 */
export async function listCollectionInfos(client: MongoClient, db: string, filter: Document = {}): Promise<CollectionInfo[]> {
  // raw: the driver hands each entry over as its bytes (typed as documents all the same).
  const raw = (await client.db(db).listCollections(filter, { nameOnly: false, authorizedCollections: true, raw: true }).toArray()) as unknown as Buffer[];
  return raw.map((bytes) => {
    const i = decodeOrdered(bytes);
    const uuid = (i.info as { uuid?: { toString(encoding: 'hex'): string } } | undefined)?.uuid?.toString('hex');
    return { name: String(i.name), type: String(i.type ?? 'collection'), options: { ...((i.options ?? {}) as Document) }, ...(uuid ? { uuid } : {}) };
  });
}

/** The UUID (hex) of the collection that holds this name now; undefined for a view or a name nothing holds. */
export async function collectionUuid(client: MongoClient, db: string, coll: string): Promise<string | undefined> {
  return (await listCollectionInfos(client, db, { name: coll }))[0]?.uuid;
}

export interface IndexSpec {
  name: string;
  /** A Map where a field name looks like an integer (see ordered-decode.ts). */
  key: OrderedDocument;
  unique?: boolean;
  [option: string]: unknown;
}

/**
 * A collection's index specs; by the collection's UUID when given (listIndexes takes one in place of the name),
 * so that a name another collection took since it was listed never answers for it.
 */
export async function listIndexSpecs(client: MongoClient, db: string, coll: string, uuid?: string): Promise<IndexSpec[]> {
  // At most 64 indexes a collection: one batch. Raw, for their keys' field order (see ordered-decode.ts); fieldsAsRaw
  // is a BSON option the driver passes through but does not declare for commands.
  const reply = await client.db(db).command({ listIndexes: uuid ? new UUID(uuid) : coll, cursor: { batchSize: 1000 } }, { fieldsAsRaw: { firstBatch: true } } as Document);
  return (reply.cursor as { firstBatch: Buffer[] }).firstBatch.map((spec) => decodeOrdered(spec) as IndexSpec);
}

export interface CollectionSizes {
  documents: number;
  /** Uncompressed BSON size of the documents. */
  dataBytes: number;
  /** Bytes on disk (compressed). */
  storageBytes: number;
  indexBytes: number;
}

/** Sizes from $collStats storageStats (collStats is deprecated since 6.2). */
/** A collection's sizes; with its UUID, the server refuses (CollectionUUIDMismatch) a name that is now another's. */
export async function collectionSizes(client: MongoClient, db: string, coll: string, uuid?: string): Promise<CollectionSizes> {
  const reply = await client.db(db).command({ aggregate: coll, pipeline: [{ $collStats: { storageStats: {} } }], cursor: {}, ...(uuid ? { collectionUUID: new UUID(uuid) } : {}) });
  const [stats] = (reply.cursor as { firstBatch: Document[] }).firstBatch;
  const s = (stats?.storageStats ?? {}) as { count?: number; size?: number; storageSize?: number; totalIndexSize?: number };
  return { documents: Number(s.count ?? 0), dataBytes: Number(s.size ?? 0), storageBytes: Number(s.storageSize ?? 0), indexBytes: Number(s.totalIndexSize ?? 0) };
}

export interface FsStats {
  fsUsedBytes: number;
  fsTotalBytes: number;
}

/** File-system figures of the volume holding a database (dbStats); null when the server does not report them. */
export async function fileSystemStats(client: MongoClient, db: string): Promise<FsStats | null> {
  const reply = await client.db(db).command({ dbStats: 1 });
  if (typeof reply.fsTotalSize !== 'number' || typeof reply.fsUsedSize !== 'number' || reply.fsTotalSize <= 0) return null;
  return { fsUsedBytes: reply.fsUsedSize, fsTotalBytes: reply.fsTotalSize };
}

/** Users and user-defined roles of every database (needs viewUser/viewRole, e.g. userAdminAnyDatabase). */
export async function countUsersAndRoles(client: MongoClient): Promise<{ users: number; roles: number }> {
  const users = await client.db('admin').command({ usersInfo: { forAllDBs: true } });
  let roles = 0;
  for (const db of await listDatabaseNames(client)) {
    const reply = await client.db(db).command({ rolesInfo: 1 });
    roles += (reply.roles as unknown[]).length;
  }
  return { users: (users.users as unknown[]).length, roles };
}
