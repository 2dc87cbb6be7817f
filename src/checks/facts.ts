import type { MongoClient } from 'mongodb';
import { SYSTEM_DBS, STATE_DB, type NamespaceFilter } from '../namespaces.js';
import type { Side } from '../mongo/connect.js';
import {
  buildInfo,
  collectionSizes,
  hello,
  listCollectionInfos,
  listDatabaseNames,
  listIndexSpecs,
  type BuildInfo,
  type CollectionInfo,
  type CollectionSizes,
  type HelloReply,
  type IndexSpec,
} from '../mongo/introspection.js';

/** One collection or view of the source, with its fate in this migration. */
export interface SourceNamespace {
  db: string;
  coll: string;
  info: CollectionInfo;
  included: boolean;
  target: { db: string; coll: string };
}

/**
 * Lazily asked, memoised server facts. Several checks and the plan need the same answers; asking once keeps
 * validate fast on clusters with many collections and keeps the answers consistent across checks.
 */
export class Facts {
  private readonly cache = new Map<string, Promise<unknown>>();
  constructor(
    private readonly clients: Record<Side, MongoClient | null>,
    private readonly filter: NamespaceFilter,
  ) {}

  client(side: Side): MongoClient {
    const client = this.clients[side];
    if (!client) throw new Error(`the ${side} is not connected`);
    return client;
  }

  private memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let value = this.cache.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      this.cache.set(key, value);
    }
    return value;
  }

  hello(side: Side): Promise<HelloReply> {
    return this.memo(`hello:${side}`, () => hello(this.client(side)));
  }

  buildInfo(side: Side): Promise<BuildInfo> {
    return this.memo(`buildInfo:${side}`, () => buildInfo(this.client(side)));
  }

  databases(side: Side): Promise<string[]> {
    return this.memo(`dbs:${side}`, () => listDatabaseNames(this.client(side)));
  }

  collections(side: Side, db: string): Promise<CollectionInfo[]> {
    return this.memo(`colls:${side}:${db}`, () => listCollectionInfos(this.client(side), db));
  }

  /** Every collection and view of the source's user databases, included or not. */
  sourceNamespaces(): Promise<SourceNamespace[]> {
    return this.memo('source-namespaces', async () => {
      const out: SourceNamespace[] = [];
      for (const db of await this.databases('source')) {
        if (SYSTEM_DBS.has(db)) continue;
        for (const info of await this.collections('source', db)) {
          out.push({ db, coll: info.name, info, included: this.filter.includes(db, info.name), target: this.filter.target(db, info.name) });
        }
      }
      return out.sort((a, b) => `${a.db}.${a.coll}`.localeCompare(`${b.db}.${b.coll}`));
    });
  }

  async includedNamespaces(): Promise<SourceNamespace[]> {
    return (await this.sourceNamespaces()).filter((n) => n.included);
  }

  indexes(side: Side, db: string, coll: string): Promise<IndexSpec[]> {
    return this.memo(`indexes:${side}:${db}.${coll}`, () => listIndexSpecs(this.client(side), db, coll));
  }

  sizes(side: Side, db: string, coll: string): Promise<CollectionSizes> {
    return this.memo(`sizes:${side}:${db}.${coll}`, () => collectionSizes(this.client(side), db, coll));
  }

  /** The destination collection info of a target namespace, or undefined when it does not exist. */
  async destinationCollection(db: string, coll: string): Promise<CollectionInfo | undefined> {
    if (!(await this.databases('destination')).includes(db)) return undefined;
    return (await this.collections('destination', db)).find((c) => c.name === coll);
  }

  /** Whether the source holds the reserved state database. */
  async sourceHasStateDb(): Promise<boolean> {
    return (await this.databases('source')).includes(STATE_DB);
  }
}
