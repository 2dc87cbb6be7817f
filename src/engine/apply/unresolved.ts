import type { Binary } from 'mongodb';
import { bytesOf } from '../../mongo/raw-bson.js';
import type { ChangeEvent } from '../capture/change-event.js';

/** An update whose looked-up document was gone: where its collection was last seen on the source. */
export interface UnresolvedDocument {
  uuid: string;
  key: Buffer;
  db: string;
  coll: string;
}

/** How the state store keeps them (Buffers come back as Binary). */
export interface SavedUnresolved {
  uuid: string;
  key: Buffer | Binary;
  db: string;
  coll: string;
}

/**
 * Documents whose latest state the stream has not told yet. An update's lookup finds nothing when the document
 * left that collection since: deleted, its collection dropped, or renamed away with the document in it. Which
 * one is decided by the events that follow, never assumed: a delete, a drop or a newer full document settles
 * it; a rename makes the document readable again under the new name. Saved with every position, so a
 * runner that stops in between resumes knowing what is still open.
 */
export class UnresolvedDocuments {
  private readonly entries = new Map<string, UnresolvedDocument>();

  constructor(saved: SavedUnresolved[] = []) {
    for (const entry of saved) {
      const key = bytesOf(entry.key);
      this.entries.set(id(entry.uuid, key), { uuid: entry.uuid, key, db: entry.db, coll: entry.coll });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  add(event: ChangeEvent): void {
    if (!event.uuid || !event.key || !event.ns.coll) throw new Error(`a ${event.type} event on ${event.ns.db} without a collection UUID or document key cannot be resolved`);
    this.entries.set(id(event.uuid, event.key), { uuid: event.uuid, key: event.key, db: event.ns.db, coll: event.ns.coll });
  }

  /** A later event told this document's state (a delete, or a whole document). */
  settle(event: ChangeEvent): void {
    if (event.uuid && event.key && this.entries.size) this.entries.delete(id(event.uuid, event.key));
  }

  /** Everything open in a dropped collection or database is settled: it is gone on both sides. */
  settleCollection(uuid: string): void {
    for (const [k, entry] of this.entries) if (entry.uuid === uuid) this.entries.delete(k);
  }

  settleDatabase(db: string): void {
    for (const [k, entry] of this.entries) if (entry.db === db) this.entries.delete(k);
  }

  /** The open documents of a collection (renamed: they are looked up again under its new name). */
  ofCollection(uuid: string): UnresolvedDocument[] {
    return [...this.entries.values()].filter((e) => e.uuid === uuid);
  }

  moved(entry: UnresolvedDocument, to: { db: string; coll: string }): void {
    entry.db = to.db;
    entry.coll = to.coll;
  }

  remove(entry: UnresolvedDocument): void {
    this.entries.delete(id(entry.uuid, entry.key));
  }

  toState(): UnresolvedDocument[] {
    return [...this.entries.values()];
  }
}

function id(uuid: string, key: Buffer): string {
  return `${uuid}:${key.toString('hex')}`;
}
