import { formatBytes, formatCount, formatDuration as formatSeconds, plural } from '../format.js';
import type { Phase } from '../model.js';
import type { LagProbeResult } from './lag-probe.js';
import type { AcknowledgedCheck, WriterStats } from './writer.js';

/** What a demo run shows at the end (also its --json output). Plain data, no secrets. */
export interface DemoSummary {
  migration: string;
  /** True when the migration committed, verification found the two sides equal and no acknowledged write was lost. */
  ok: boolean;
  /** The migration's phase at the end (committed after a successful cutover). */
  finalPhase: Phase | 'unknown';
  /** Every phase the migration's state went through, in order. */
  phasesReached: Phase[];
  dataset: { documents: number; collections: number; views: number; indexes: number; bytes: number };
  /** Documents copied by sync, plus changes applied from the change stream (sync catch-up, tail, cutover drain). */
  moved: { documentsCopied: number; changesApplied: number };
  /**
   * Lag as the engine reports it (at the end of the tail slice, and the highest sampled), and as seen from
   * outside during the tail: how long the writer's inserts took to appear on the destination.
   */
  lag: { atCutoverSeconds: number | null; maxSeconds: number | null; observed: LagProbeResult };
  /** Seconds during which the source refused writes before the destination was committed; null without a cutover. */
  downtimeSeconds: number | null;
  verification: { result: string; equal: boolean; exact: boolean; collections: number; mismatches: number };
  writes: WriterStats & { check: AcknowledgedCheck };
  /** Documents on the destination after the migration (all migrated collections) and on the source. */
  documentsOnDestination: number;
  documentsOnSource: number;
  /** Wall time of each step, in order. */
  steps: { name: string; seconds: number; exitCode?: number; note?: string }[];
  totalSeconds: number;
  /** Why ok is false, when it is. */
  problems: string[];
}

/** The closing block of the demo, for a terminal. Pure. */
export function renderDemoSummary(s: DemoSummary): string {
  const lost = s.writes.check.lostCount;
  const lines = [
    '',
    `== demo summary: ${s.migration} ${s.ok ? 'succeeded' : 'did NOT succeed'}`,
    `dataset           ${formatCount(s.dataset.documents)} documents (${formatBytes(s.dataset.bytes)}) in ${plural(s.dataset.collections, 'collection')}, ${plural(s.dataset.views, 'view')}, ${plural(s.dataset.indexes, 'secondary index', 'secondary indexes')}`,
    `documents moved   ${formatCount(s.moved.documentsCopied)} copied + ${formatCount(s.moved.changesApplied)} live changes applied`,
    `lag               ${seconds(s.lag.atCutoverSeconds)} before cutover (max ${seconds(s.lag.maxSeconds)}); seen from outside during the tail: ${observed(s.lag.observed)}`,
    `write downtime    ${s.downtimeSeconds === null ? 'no cutover' : formatSeconds(s.downtimeSeconds)}`,
    `verification      ${s.verification.result}`,
    `live writer       ${formatCount(s.writes.acknowledged)} writes acknowledged (${s.writes.inserts} inserts, ${s.writes.updates} updates, ${s.writes.deletes} deletes), ${s.writes.rejectedByWriteBlock} refused by the write block${s.writes.failed ? `, ${s.writes.failed} failed (${s.writes.lastError ?? 'unknown'})` : ''}`,
    `                  ${formatCount(s.writes.check.asExpected)}/${formatCount(s.writes.check.checked)} documents they touched are on the destination as last acknowledged: ${lost ? `${lost} LOST` : 'none lost'}`,
    `documents         ${formatCount(s.documentsOnSource)} on the source, ${formatCount(s.documentsOnDestination)} on the destination`,
    `phases            ${s.phasesReached.join(' → ') || '-'}`,
    `step times        ${s.steps.map((t) => `${t.name} ${formatSeconds(t.seconds)}`).join(', ')}; total ${formatSeconds(s.totalSeconds)}`,
  ];
  for (const l of s.writes.check.lost.slice(0, 5)) lines.push(`  lost: ${l.namespace} _id ${l.id}: expected ${l.expected}, found ${l.found}`);
  for (const p of s.problems) lines.push(`problem: ${p}`);
  return lines.join('\n') + '\n';
}

function observed(o: LagProbeResult): string {
  if (!o.samples) return 'no sample';
  // Milliseconds: these delays are usually well under a second, where formatSeconds would round them away.
  const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v * 1000)} ms`);
  return `inserts on the destination ${ms(o.p50Seconds)} after acknowledgement (median), ${ms(o.maxSeconds)} at most, ${o.samples} samples${o.timedOut ? `; ${o.timedOut} not within 30 s` : ''}`;
}

function seconds(value: number | null): string {
  return value === null ? '-' : formatSeconds(value);
}
