import type { Document, MongoClient } from 'mongodb';
import { ignoreCodes, SERVER_ERROR } from '../../mongo/server-errors.js';
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
    const db = this.destination.db(target.db);
    const [info] = (await db.listCollections({ name: target.coll }).toArray()) as Document[];
    if (!info) {
      await db.createCollection(target.coll).catch(ignoreCodes(SERVER_ERROR.NamespaceExists));
    }
    const options = (info?.options ?? {}) as { capped?: boolean; collation?: { locale?: string } };
    const capped = Boolean(options.capped);
    const kind = { capped, ordered: capped || (options.collation !== undefined && options.collation.locale !== 'simple') };
    this.known.set(name, kind);
    return kind;
  }

  forget(): void {
    this.known.clear();
  }
}
