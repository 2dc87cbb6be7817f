import type { CollectionProgress, Progress, VerificationProgress } from '../model.js';
import type { Readiness } from './readiness.js';
import type { MigrationDoc, PartitionDoc } from './state/types.js';

/** Builds the report model from the durable state (plus live counters when a run is in progress). */
export function buildProgress(doc: MigrationDoc, partitions: PartitionDoc[], extra: { oplogHeadroomSeconds?: number | null; etaSeconds?: number | null; maxLagSeconds?: number; readiness?: Readiness; verification?: VerificationProgress } = {}): Progress {
  const copied = new Map<string, { docs: number; bytes: number; done: boolean }>();
  for (const p of partitions) {
    const entry = copied.get(p.source) ?? { docs: 0, bytes: 0, done: true };
    entry.docs += p.documentsCopied;
    entry.bytes += p.bytesCopied;
    entry.done &&= p.done;
    copied.set(p.source, entry);
  }
  const collections: CollectionProgress[] = doc.collections.map((c) => {
    const entry = copied.get(c.source);
    const done = c.kind === 'view' ? c.created : Boolean(entry?.done && c.indexesBuilt);
    return {
      source: c.source,
      target: c.target,
      kind: c.kind,
      documentsTotal: Math.max(c.documentsTotal, entry?.docs ?? 0),
      documentsCopied: entry?.docs ?? 0,
      bytesTotal: Math.max(c.bytesTotal, entry?.bytes ?? 0),
      bytesCopied: entry?.bytes ?? 0,
      done,
    };
  });
  const totals = collections.reduce(
    (t, c) => ({ documentsTotal: t.documentsTotal + c.documentsTotal, documentsCopied: t.documentsCopied + c.documentsCopied, bytesTotal: t.bytesTotal + c.bytesTotal, bytesCopied: t.bytesCopied + c.bytesCopied }),
    { documentsTotal: 0, documentsCopied: 0, bytesTotal: 0, bytesCopied: 0 },
  );
  const last = doc.history[doc.history.length - 1];
  const lagOk = doc.lagSeconds !== null && doc.lagSeconds <= (extra.maxLagSeconds ?? Infinity);
  return {
    migration: doc._id,
    phase: doc.phase,
    ...(doc.step ? { step: doc.step } : {}),
    phaseSince: (last?.at ?? doc.createdAt).toISOString(),
    history: doc.history.map((h) => ({ phase: h.phase, at: h.at.toISOString(), runner: h.runner, ...(h.note ? { note: h.note } : {}) })),
    collections,
    totals,
    // A readiness judged now (status) replaces what the last slice recorded (see readiness.ts); a failing
    // change stream is never ready.
    lagSeconds: extra.readiness && doc.phase === 'tailing' ? extra.readiness.lagSeconds : doc.lagSeconds,
    // With continuous verification, ready also means fully covered and no difference found.
    readyForCutover: (extra.readiness ? extra.readiness.ready : doc.phase === 'tailing' && lagOk) && !doc.streamError && (!extra.verification || (extra.verification.complete && extra.verification.mismatches === 0)),
    oplogHeadroomSeconds: extra.readiness?.headroomSeconds ?? extra.oplogHeadroomSeconds ?? null,
    etaSeconds: extra.etaSeconds ?? null,
    eventsApplied: doc.eventsApplied,
    lagHistory: doc.lagHistory,
    warnings: [...(extra.readiness && doc.phase === 'tailing' ? [...doc.warnings, ...extra.readiness.warnings, ...extra.readiness.reasons.map((r) => `not ready: ${r}`)] : doc.warnings), ...verificationWarnings(doc, extra.verification)],
    sourceWriteBlocked: Boolean(doc.writeBlock && !doc.writeBlock.liftedAt),
    ...(doc.cutover?.downtimeSeconds !== undefined ? { downtimeSeconds: doc.cutover.downtimeSeconds } : {}),
    ...(extra.verification ? { verification: extra.verification } : {}),
    ...(doc.error || doc.streamError ? { error: doc.error ?? `change stream: ${doc.streamError}` } : {}),
  };
}

/** Why continuous verification keeps a tailing migration from being ready. */
function verificationWarnings(doc: MigrationDoc, verification: VerificationProgress | undefined): string[] {
  if (!verification || doc.phase !== 'tailing') return [];
  const out: string[] = [];
  if (!verification.complete) out.push(`not ready: continuous verification has compared ${verification.partitionsVerified} of ${verification.partitionsTotal} partitions (run tail)`);
  if (verification.mismatches) out.push(`not ready: verification found ${verification.mismatches} difference(s): ${verification.mismatchDetails.join('; ')}`);
  return out;
}
