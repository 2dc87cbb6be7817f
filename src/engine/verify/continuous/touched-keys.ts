import type { Timestamp } from 'mongodb';
import { documentSlot as slot } from './recheck-queue.js';

/** Keys remembered at most; past it the oldest are forgotten, and the watch queues their writes (cost, not loss). */
const CAPACITY = 100_000;

interface Coverage {
  /** Source time of the latest touch logged for the document. */
  touched: Timestamp;
  /** Destination time a comparison of that touch read as of; null while it is still to come. */
  asOf: Timestamp | null;
}

/**
 * Which destination writes a comparison of this process will see or has seen, so that the destination watch
 * need not queue the tail's own writes one entry each. A key logged by the tail (TouchLog) is covered until its
 * latest logged touch is compared, and then for every write at or before the destination time that comparison
 * read as of. A write the watch sees at a time a key covers was read by that comparison, or is still to be: it
 * costs no entry. Bounded and known only in this process: a write it does not cover is queued, as before.
 */
export class TouchedKeys {
  private readonly keys = new Map<string, Coverage>();

  /** The tail logged a touch of this document (source time `at`): a comparison of it is to come. */
  pending(target: string, key: Buffer, at: Timestamp): void {
    const name = slot(target, key);
    if (name === undefined) return;
    // Map order is insertion order: deleted first, the key moves to the newest end.
    this.keys.delete(name);
    this.keys.set(name, { touched: at, asOf: null });
    if (this.keys.size > CAPACITY) this.keys.delete(this.keys.keys().next().value!);
  }

  /** The touch at source time `touched` was compared, reading the destination as of `asOf`. */
  compared(target: string, key: Buffer, touched: Timestamp, asOf: Timestamp): void {
    const name = slot(target, key);
    const coverage = name === undefined ? undefined : this.keys.get(name);
    // A later touch logged meanwhile keeps its own comparison to come.
    if (coverage && !coverage.touched.greaterThan(touched)) coverage.asOf = asOf;
  }

  /** True when a comparison of this process sees, or saw, a write of this document made at destination time `at`. */
  covers(target: string, key: Buffer, at: Timestamp): boolean {
    const name = slot(target, key);
    const coverage = name === undefined ? undefined : this.keys.get(name);
    if (!coverage) return false;
    return coverage.asOf === null || !at.greaterThan(coverage.asOf);
  }

  forgetAll(): void {
    this.keys.clear();
  }
}
