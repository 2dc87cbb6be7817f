import type { Document, MongoClient } from 'mongodb';
import { ignoreCodes, SERVER_ERROR } from '../../mongo/server-errors.js';
import { withinShortBound } from '../../mongo/stall-bound.js';
import type { Namespace } from '../../namespaces.js';

export interface TargetKind {
  /** Writes must keep stream order: a capped collection (insertion order is its content), or a collation's own equality. */
  ordered: boolean;
  capped: boolean;
}

/**
 * What the applier must know of each destination collection it writes to, read from the destination once
 * (and forgotten after any DDL). A missing collection is created here, once, before any parallel write.
 */
export class TargetKinds {
  private readonly known = new Map<string, TargetKind>();

  constructor(private readonly destination: MongoClient) {}

  async of(target: Namespace): Promise<TargetKind> {
    const name = `${target.db}.${target.coll}`;
    const cached = this.known.get(name);
    if (cached) return cached;
    const info = await this.read(target);
    if (!info) {
      await this.destination.db(target.db).createCollection(target.coll).catch(ignoreCodes(SERVER_ERROR.NamespaceExists));
    }
    return this.remember(name, info);
  }

  /** The kind of a collection the destination already has; undefined, and nothing created, when it has none. */
  async existing(target: Namespace): Promise<TargetKind | undefined> {
    const name = `${target.db}.${target.coll}`;
    const cached = this.known.get(name);
    if (cached) return cached;
    const info = await this.read(target);
    return info ? this.remember(name, info) : undefined;
  }

  /**
   * The kind of an existing collection, read without being remembered: for a guess ahead of the writes (a DDL step
   * may change it before then; `existing`, at the writes, is what they rely on).
   */
  async peek(target: Namespace): Promise<TargetKind | undefined> {
    const cached = this.known.get(`${target.db}.${target.coll}`);
    if (cached) return cached;
    const info = await this.read(target);
    return info ? kindOf(info) : undefined;
  }

  /** What was read of a collection now (while no DDL passes), or of none. */
  cached(target: Namespace): TargetKind | undefined {
    return this.known.get(`${target.db}.${target.coll}`);
  }

  /**
   * The collection's listCollections entry on the destination, undefined when it has none. Within the tail's command
   * bound, as its other short commands: one name's entry fits in the first batch.
   */
  private async read(target: Namespace): Promise<Document | undefined> {
    const reply = await withinShortBound(`a listCollections on ${target.db}`, (signal) => this.destination.db(target.db).command({ listCollections: 1, filter: { name: target.coll } }, { signal }));
    return (reply.cursor as { firstBatch: Document[] }).firstBatch[0];
  }

  private remember(name: string, info: Document | undefined): TargetKind {
    const kind = kindOf(info);
    this.known.set(name, kind);
    return kind;
  }

  forget(): void {
    this.known.clear();
  }
}

function kindOf(info: Document | undefined): TargetKind {
  const options = (info?.options ?? {}) as { capped?: boolean; collation?: { locale?: string } };
  const capped = Boolean(options.capped);
  return { capped, ordered: capped || (options.collation !== undefined && options.collation.locale !== 'simple') };
}
