/**
 * How far each partition comparison has got, known in the process that runs it, so that a touched document the
 * comparison has still to read costs no recheck entry: the comparison reads it later, on both sides, and queues
 * it if they differ. Under a batch job right after the copy this is most of what the tail writes, and each
 * entry is a write on the destination beside the data's own.
 *
 * The rule it answers (`willCompare`): a document is left to its partition when that partition is known, not
 * being compared at this moment, not finished, and the document's `_id` lies strictly after the last `_id`
 * compared. Whoever asks has seen the change already (the feed reads it from the source stream, the destination
 * watch after the write), so the step that reaches the document starts after the change: its source read sees
 * it, and its destination read either sees the write or finds a difference and queues it. Anything not known
 * exactly (a partition planned by another process and not loaded, a step in flight, an `_id` whose order against
 * the last one is not certain here) answers "no": the document is queued, as it was before.
 *
 * It learns only from the state (load, at the verifier's start), from planning, and from the steps of this
 * process, which alone compare partitions while it holds the lease.
 */
import type { Document } from 'mongodb';
import { bytesOf, rawIdKey, rawIdType } from '../../../mongo/raw-bson.js';
import { EXACT_TYPES } from '../../copy/raw-insert.js';
import type { StateStore } from '../../state/store.js';
import type { VerifyPartitionDoc } from '../../state/types.js';
import { idKeyOf, isAfter } from './id-order.js';
import type { SavedStep } from './partition-compare.js';

interface Progress {
  epoch: string;
  /** The last `_id` compared (type byte + value), absent before the first step. */
  lastKey?: Buffer;
  done: boolean;
  /** A step is reading this partition now: nothing in it may be left to it. */
  busy: boolean;
}

/** The `$type` class of an `_id` by its BSON type byte, for the classes partitions are planned by. */
const CLASS_OF_TYPE = new Map<number, string>([
  [0x01, 'number'],
  [0x10, 'number'],
  [0x12, 'number'],
  [0x13, 'number'],
  [0x02, 'string'],
  [0x03, 'object'],
  [0x05, 'binData'],
  [0x07, 'objectId'],
  [0x08, 'bool'],
  [0x09, 'date'],
  [0x11, 'timestamp'],
]);

type Named = Pick<VerifyPartitionDoc, 'source' | 'typeClass' | 'epoch'>;

export class ComparisonFrontier {
  private readonly partitions = new Map<string, Progress>();
  /** Source namespaces whose strings compare by bytes (no collation): only there is a string `_id` placed. */
  private readonly binaryStrings = new Set<string>();
  /** Bumped by every change, so a load that raced one is dropped rather than applied over it. */
  private generation = 0;

  /** Reads every partition of the migration from the state (before this process compares any). */
  async load(store: StateStore): Promise<void> {
    const generation = this.generation;
    const docs = await store.verifyPartitions.find({ migration: store.name }, EXACT_TYPES).toArray();
    if (generation !== this.generation) return;
    for (const doc of docs) this.learn(doc);
  }

  /** A partition as the state holds it (planned, or loaded). A step in flight keeps its own view. */
  learn(doc: VerifyPartitionDoc): void {
    const key = slot(doc);
    if (this.partitions.get(key)?.busy) return;
    const lastKey = doc.lastIdKey ? bytesOf(doc.lastIdKey) : doc.lastId === undefined ? undefined : idKeyOf(doc.lastId);
    this.partitions.set(key, { epoch: doc.epoch, done: doc.done, busy: false, ...(lastKey ? { lastKey } : {}) });
    this.generation++;
  }

  /** Which sources compare strings by their bytes (listPairs' `sourceInfo`). */
  collations(pairs: readonly { source: string; sourceInfo: { options?: Document } }[]): void {
    this.binaryStrings.clear();
    for (const pair of pairs) {
      const collation = pair.sourceInfo.options?.collation as { locale?: string } | undefined;
      if (!collation || collation.locale === 'simple') this.binaryStrings.add(pair.source);
    }
  }

  /** A step starts reading the partition: from now until it ends, its documents are queued. */
  begin(partition: Named): void {
    const known = this.partitions.get(slot(partition));
    this.partitions.set(slot(partition), known?.epoch === partition.epoch ? { ...known, busy: true } : { epoch: partition.epoch, done: false, busy: true });
    this.generation++;
  }

  /** The step saved its progress (its last `_id`, `done`); without `saved` it failed and the partition is unknown again. */
  end(partition: Named, saved?: SavedStep): void {
    const key = slot(partition);
    const known = this.partitions.get(key);
    this.generation++;
    if (known?.epoch !== partition.epoch) return;
    if (!saved) {
      this.partitions.delete(key);
      return;
    }
    const lastKey = saved.lastKey ?? known.lastKey;
    this.partitions.set(key, { epoch: partition.epoch, done: saved.done, busy: false, ...(lastKey ? { lastKey } : {}) });
  }

  /** Partitions reset by DDL (compared again from scratch): unknown until planned again. */
  forget(sources: readonly string[], databases: readonly string[]): void {
    const prefixes = databases.map((db) => `${db}.`);
    for (const key of this.partitions.keys()) {
      const source = key.slice(0, key.indexOf('\u0000'));
      if (sources.includes(source) || prefixes.some((p) => source.startsWith(p))) this.partitions.delete(key);
    }
    this.generation++;
  }

  /** Every partition reset (the destination watch lost its place): nothing is left to a comparison until planned again. */
  forgetAll(): void {
    this.partitions.clear();
    this.generation++;
  }

  /** True when the comparison of `source` will read this document (by its raw documentKey) later: see above. */
  willCompare(source: string, documentKey: Buffer): boolean {
    // Asked for every event the tail reads: the _id is copied only when a partition's progress must be compared.
    const type = rawIdType(documentKey);
    const typeClass = type === undefined ? undefined : CLASS_OF_TYPE.get(type);
    if (!typeClass) return false;
    const progress = this.partitions.get(slot({ source, typeClass }));
    if (!progress || progress.busy || progress.done) return false;
    if (!progress.lastKey) return true;
    return isAfter(rawIdKey(documentKey)!, progress.lastKey, { binaryStrings: this.binaryStrings.has(source) });
  }
}

function slot(partition: Pick<VerifyPartitionDoc, 'source' | 'typeClass'>): string {
  return `${partition.source}\u0000${partition.typeClass}`;
}
