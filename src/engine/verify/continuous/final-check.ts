import type { Timestamp } from 'mongodb';
import { decodeIdKey, formatId, rawIdKey, bytesOf } from '../../../mongo/raw-bson.js';
import { lastWriteTime } from '../../../mongo/introspection.js';
import type { VerifyCollection, VerifyMismatch, VerifyReport } from '../../../model.js';
import type { MigrationRun } from '../../run.js';
import { DestinationWatch } from './destination-watch.js';
import { listPairs, sourceOfTarget } from '../pairs.js';
import { compareMetadata } from './meta-compare.js';
import { openPartitions, planVerifyPartitions, StepSizer } from './partition-compare.js';
import { recheckEntries, type DifferenceKind } from './recheck.js';
import { RecheckQueue } from './recheck-queue.js';
import { TouchLog } from './touch-log.js';
import { comparable } from './verifier.js';

export interface FinalCheckOptions {
  mode: 'count' | 'hash';
  maxIds?: number;
  /**
   * The verifier strategy for a source that still changes (rehearse): documents are rechecked against the
   * source as of this time (snapshot reads), and counts are left to the caller's snapshot comparison.
   */
  sourceAt?: Timestamp;
  /** Told what the check does, for the cutover's step timings. */
  onPhase?: (phase: 'destination-writes' | 'partitions' | 'recheck' | 'metadata', ms: number) => void;
}

/**
 * The verification inside the cutover, once the source is blocked and drained: only what continuous
 * verification left open. Writes to the destination not yet seen are queued, partitions not compared yet are
 * compared (none, when status said ready), every queued document is compared once — the sides are frozen now,
 * so any difference is a mismatch — and collections, options, indexes and metadata counts are compared.
 */
export async function finalCheck(run: MigrationRun, options: FinalCheckOptions): Promise<VerifyReport> {
  const started = Date.now();
  const { source, destination, store } = run;
  const queue = new RecheckQueue(store);
  const notes: string[] = [];
  const mismatches: VerifyMismatch[] = [];
  const pairs = await listPairs(source, run.filter);
  const phase = async <T>(name: Parameters<NonNullable<FinalCheckOptions['onPhase']>>[0], work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    try {
      return await work();
    } finally {
      options.onPhase?.(name, Date.now() - at);
    }
  };

  if (options.mode === 'hash') {
    await phase('destination-writes', async () => {
      const watch = new DestinationWatch(destination, store, queue, sourceOfTarget(pairs), run.filter.targetDatabaseCondition(), run.frontier, run.touched);
      const until = await lastWriteTime(destination, 'applied');
      await watch.open((await store.get())?.verification?.destinationToken);
      // A write after `until`, so the stream has a point beyond it to reach even on an otherwise idle destination.
      await store.migrations.updateOne({ _id: store.name }, { $set: { 'verification.finalCheckAt': new Date() } }, { writeConcern: { w: 'majority' } });
      try {
        while (!(await watch.pump(1000, until)).passed);
        if (watch.historyLost) notes.push('the destination change stream had lost its place in the destination oplog: every collection was compared again inside the cutover');
      } finally {
        await watch.close();
      }
    });

    await phase('partitions', async () => {
      const planned = new Set(await store.verifyPartitions.distinct('source', { migration: store.name }));
      for (const pair of pairs) if (comparable(pair) && !planned.has(pair.source)) await planVerifyPartitions(source, destination, store, pair, run.frontier);
      let compared = 0;
      // Not stamped with a read time: the sides are frozen, and the recheck below judges every entry as of sourceAt.
      const steps = new StepSizer(run.frontier, { moving: false });
      for (;;) {
        const [partition] = await openPartitions(store, 1);
        if (!partition) break;
        run.ports.signal.throwIfAborted();
        compared += (await steps.run(source, destination, store, queue, partition)).compared;
      }
      if (compared) notes.push(`${compared} documents were compared inside the cutover: continuous verification had not covered them yet`);
    });

    await phase('recheck', async () => {
      // The tail's last logged touches (its final batches, or what the verifier had not compared yet) join the queue.
      await new TouchLog(store).expandInto(queue);
      const found = new Map<string, { kind: DifferenceKind; namespace: string; target: string; ids: string[]; more: boolean }>();
      let afterId;
      for (;;) {
        const page = await queue.next(1000, { all: true, ...(afterId ? { afterId } : {}) });
        if (!page.length) break;
        afterId = page[page.length - 1]!._id;
        const result = await recheckEntries(source, destination, queue, page, options.sourceAt, { frozen: true });
        for (const { entry, kind } of result.different) {
          const name = `${entry.t}\u0000${kind}`;
          const slot = found.get(name) ?? { kind, namespace: entry.s, target: entry.t, ids: [], more: false };
          if (slot.ids.length < (options.maxIds ?? 20)) slot.ids.push(formatId(decodeIdKey(rawIdKey(bytesOf(entry.key))!)));
          else slot.more = true;
          found.set(name, slot);
        }
      }
      for (const slot of found.values()) {
        const what = slot.kind === 'content' ? 'with different content (bytes or BSON types)' : slot.kind === 'missing-document' ? 'missing on the destination' : 'only on the destination';
        mismatches.push({ namespace: slot.namespace, ...(slot.target !== slot.namespace ? { target: slot.target } : {}), kind: slot.kind, detail: `${slot.ids.length}${slot.more ? '+' : ''} document${slot.ids.length === 1 ? '' : 's'} ${what}`, ids: slot.ids });
      }
    });
  }

  const meta = await phase('metadata', () => compareMetadata(source, destination, store, pairs, { counts: !options.sourceAt, owned: run.doc.collections.map((c) => c.target) }));
  mismatches.push(...meta.mismatches);
  notes.push(...meta.notes);
  const collections: VerifyCollection[] = pairs.map((pair) => {
    const counts = meta.counts.get(pair.source);
    const bad = mismatches.some((m) => m.namespace === pair.source);
    const method = pair.kind === 'view' ? 'view-definition' : options.mode === 'hash' ? 'continuous raw-byte comparison + recheck queue + metadata count' : 'metadata count';
    return { source: pair.source, target: pair.target, sourceCount: counts?.source ?? 0, targetCount: counts?.target ?? 0, method, equal: !bad, kind: pair.kind };
  });
  return { mode: options.mode, exact: true, collections, mismatches, ...(notes.length ? { notes } : {}), durationMs: Date.now() - started };
}
