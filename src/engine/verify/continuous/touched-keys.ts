import type { Timestamp } from 'mongodb';
import { rawIdKey } from '../../../mongo/raw-bson.js';

/** Keys remembered at most; past it the oldest are forgotten, and the watch queues their writes (cost, not loss). */
const CAPACITY = 100_000;
/** Per row: the latest touch's source time and the destination time its comparison read as of, each as (t, i). */
const TOUCHED_T = 0;
const TOUCHED_I = 1;
const AS_OF_T = 2;
const AS_OF_I = 3;
const ROW = 4;

/**
 * Which destination writes a comparison of this process will see or has seen, so that the destination watch
 * need not queue the tail's own writes one entry each. A key logged by the tail (TouchLog) is covered until its
 * latest logged touch is compared, and then for every write at or before the destination time that comparison
 * read as of. A write the watch sees at a time a key covers was read by that comparison, or is still to be: it
 * costs no entry. Bounded and known only in this process: a write it does not cover is queued, as before.
 *
 * Held compactly because it stays full for as long as a batch job runs, and V8 lets the heap grow to a multiple
 * of what stays live (bench/: a key string, a coverage object and two Timestamps each made it ~30 MB of a 50 MB
 * live heap, and a full-scale burst's peak RSS went past 256 MB). A key is one flat string, the times are in a
 * typed array.
 */
export class TouchedKeys {
  /** Key → its row in `times`. Map order is insertion order: the first key is the one touched longest ago. */
  private readonly rows = new Map<string, number>();
  /** A destination time of (0, 0) is "its comparison is still to come": no cluster time is zero. */
  private readonly times = new Uint32Array(CAPACITY * ROW);
  /** Destination namespaces numbered, so that a key names its namespace in four bytes. */
  private readonly namespaces = new Map<string, number>();

  /** The tail logged a touch of this document (source time `at`): a comparison of it is to come. */
  pending(target: string, key: Buffer, at: Timestamp): void {
    const name = this.keyOf(target, key);
    if (name === undefined) return;
    let row = this.rows.get(name);
    if (row !== undefined) {
      // Deleted first, the key moves to the newest end.
      this.rows.delete(name);
    } else if (this.rows.size < CAPACITY) {
      row = this.rows.size;
    } else {
      const [oldest, freed] = this.rows.entries().next().value!;
      this.rows.delete(oldest);
      row = freed;
    }
    this.rows.set(name, row);
    const at0 = row * ROW;
    this.times[at0 + TOUCHED_T] = at.t;
    this.times[at0 + TOUCHED_I] = at.i;
    this.times[at0 + AS_OF_T] = 0;
    this.times[at0 + AS_OF_I] = 0;
  }

  /** The touch at source time `touched` was compared, reading the destination as of `asOf`. */
  compared(target: string, key: Buffer, touched: Timestamp, asOf: Timestamp): void {
    const row = this.rowOf(target, key);
    if (row === undefined) return;
    const at0 = row * ROW;
    // A later touch logged meanwhile keeps its own comparison to come.
    if (later(this.times[at0 + TOUCHED_T]!, this.times[at0 + TOUCHED_I]!, touched.t, touched.i)) return;
    this.times[at0 + AS_OF_T] = asOf.t;
    this.times[at0 + AS_OF_I] = asOf.i;
  }

  /** True when a comparison of this process sees, or saw, a write of this document made at destination time `at`. */
  covers(target: string, key: Buffer, at: Timestamp): boolean {
    const row = this.rowOf(target, key);
    if (row === undefined) return false;
    const asOfT = this.times[row * ROW + AS_OF_T]!;
    const asOfI = this.times[row * ROW + AS_OF_I]!;
    if (asOfT === 0 && asOfI === 0) return true;
    return !later(at.t, at.i, asOfT, asOfI);
  }

  forgetAll(): void {
    this.rows.clear();
  }

  private rowOf(target: string, key: Buffer): number | undefined {
    const name = this.keyOf(target, key);
    return name === undefined ? undefined : this.rows.get(name);
  }

  /** The namespace's number and the `_id` element's bytes as one flat one-byte string (latin1 maps byte to char, one to one). */
  private keyOf(target: string, documentKey: Buffer): string | undefined {
    const id = rawIdKey(documentKey);
    if (id === undefined) return undefined;
    let number = this.namespaces.get(target);
    if (number === undefined) {
      number = this.namespaces.size;
      this.namespaces.set(target, number);
    }
    const bytes = Buffer.allocUnsafe(4 + id.length);
    bytes.writeUInt32LE(number, 0);
    id.copy(bytes, 4);
    return bytes.toString('latin1');
  }
}

/** (t, i) after (t2, i2), the order of BSON timestamps. */
function later(t: number, i: number, t2: number, i2: number): boolean {
  return t > t2 || (t === t2 && i > i2);
}
