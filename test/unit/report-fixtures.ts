import type { CommandOutcome, Progress } from '../../src/model.js';

/** Outcomes for the renderer tests: realistic, deterministic (fixed times). */
export function tailingProgress(): Progress {
  const t0 = Date.parse('2026-11-24T08:00:00Z');
  return {
    migration: 'orders-to-atlas',
    phase: 'tailing',
    phaseSince: '2026-11-24T09:12:00.000Z',
    history: [
      { phase: 'created', at: '2026-11-23T10:00:00.000Z', runner: 'acme/shop run 1001 attempt 1' },
      { phase: 'validated', at: '2026-11-23T10:00:05.000Z', runner: 'acme/shop run 1001 attempt 1' },
      { phase: 'syncing', at: '2026-11-23T10:01:00.000Z', runner: 'acme/shop run 1002 attempt 1', note: 'copy started' },
      { phase: 'tailing', at: '2026-11-24T09:12:00.000Z', runner: 'acme/shop run 1007 attempt 2' },
    ],
    collections: [
      { source: 'shop.orders', target: 'shop.orders', kind: 'collection', documentsTotal: 1_250_000, documentsCopied: 1_250_000, bytesTotal: 2_400_000_000, bytesCopied: 2_400_000_000, done: true },
      { source: 'shop.events', target: 'shop.events', kind: 'capped', documentsTotal: 50_000, documentsCopied: 50_000, bytesTotal: 12_000_000, bytesCopied: 12_000_000, done: true },
      { source: 'crm.customers', target: 'crm.clients', kind: 'collection', documentsTotal: 80_000, documentsCopied: 80_000, bytesTotal: 96_000_000, bytesCopied: 96_000_000, done: true },
      { source: 'shop.odd|name', target: 'shop.odd|name', kind: 'collection', documentsTotal: 3, documentsCopied: 3, bytesTotal: 300, bytesCopied: 300, done: true },
    ],
    totals: { documentsTotal: 1_380_003, documentsCopied: 1_380_003, bytesTotal: 2_508_000_300, bytesCopied: 2_508_000_300 },
    lagSeconds: 1.4,
    readyForCutover: true,
    oplogHeadroomSeconds: 172_800,
    etaSeconds: null,
    eventsApplied: 48_211,
    lagHistory: Array.from({ length: 12 }, (_, i) => ({ at: new Date(t0 + i * 600_000).toISOString(), lagSeconds: [40, 22, 9.5, 4, 3.2, 2, 1.8, 6.1, 2.2, 1.5, 1.2, 1.4][i] ?? 0 })),
    warnings: ['shop.events is capped: its copy may hold fewer documents than the source if it wrapped during the copy'],
    sourceWriteBlocked: false,
  };
}

export function tailOutcome(): CommandOutcome {
  return { command: 'tail', exitCode: 0, summary: 'tail of "orders-to-atlas": lag 1.4s held under 5s: ready for cutover', progress: tailingProgress(), continue: true, nextStep: 'mongo-live-migrate cutover --config migrations/orders/migration.yaml --confirm orders-to-atlas' };
}

export function validateOutcome(): CommandOutcome {
  return {
    command: 'validate',
    exitCode: 1,
    summary: 'migration "orders-to-atlas": 1 check failed, 1 warning',
    checks: [
      { id: 'config.schema', title: 'Configuration', status: 'pass', message: 'migrations/orders/migration.yaml is valid' },
      { id: 'source.topology', title: 'Source topology', status: 'pass', message: 'replica set rs0, 3 members' },
      { id: 'source.oplog-window', title: 'Oplog window', status: 'warn', message: 'the source oplog holds 5h of writes', remedy: 'grow the oplog (replSetResizeOplog) to cover a day' },
      { id: 'destination.conflicts', title: 'Destination conflicts', status: 'fail', message: 'shop.orders already holds 12 documents', remedy: 'set sync.dropDestination: true or empty it' },
    ],
  };
}

/** Far beyond any GitHub limit: every section is huge. */
export function hugeOutcome(): CommandOutcome {
  const p = tailingProgress();
  const collections = Array.from({ length: 30_000 }, (_, i) => ({ source: `db${i % 50}.collection_with_a_long_name_${i}`, target: `db${i % 50}.collection_with_a_long_name_${i}`, kind: 'collection' as const, documentsTotal: 1000 + i, documentsCopied: i % 3 ? 1000 + i : i, bytesTotal: 1e6, bytesCopied: i % 3 ? 1e6 : 5e5, done: i % 3 !== 0 }));
  return {
    command: 'sync',
    exitCode: 0,
    summary: 'sync slice saved its position; another slice is needed',
    verification: {
      mode: 'hash',
      exact: false,
      collections: collections.map((c, i) => ({ source: c.source, target: c.target, sourceCount: c.documentsTotal, targetCount: c.documentsCopied, method: 'count+dbHash', equal: i % 3 !== 0 })),
      mismatches: Array.from({ length: 10_000 }, (_, i) => ({ namespace: `db${i % 50}.collection_with_a_long_name_${i * 3}`, kind: 'content' as const, detail: `hash differs ${'z'.repeat(400)}`, ids: Array.from({ length: 20 }, (_, j) => `ObjectId("${String(i * 20 + j).padStart(24, '0')}")`) })),
      notes: ['unique indexes are still relaxed for the sync'],
    },
    continue: true,
    checks: Array.from({ length: 5_000 }, (_, i) => ({ id: `check.${i}`, title: 'A check', status: i % 7 ? ('pass' as const) : ('fail' as const), message: `facts found ${'x'.repeat(200)} ${i}`, remedy: i % 7 ? undefined : `do this ${'y'.repeat(200)}` })),
    plan: {
      entries: collections.map((c, i) => ({ source: c.source, target: c.target, kind: c.kind, documents: c.documentsTotal, dataBytes: c.bytesTotal, indexes: ['_id_', 'a_1'], action: i === 29_999 ? ('conflict' as const) : ('create' as const) })),
      totals: { collections: 30_000, views: 0, documents: 45_000_000, dataBytes: 3e10, indexes: 60_000 },
      estimate: { seconds: 7200, method: 'read probe' },
      oplogWindowSeconds: 86_400,
    },
    progress: {
      ...p,
      phase: 'syncing',
      step: 'copy',
      collections,
      history: Array.from({ length: 5_000 }, (_, i) => ({ phase: 'syncing' as const, at: new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString(), runner: `acme/shop run ${i} attempt 1`, note: 'slice' })),
      lagHistory: Array.from({ length: 20_000 }, (_, i) => ({ at: new Date(Date.UTC(2026, 10, 1) + i * 30_000).toISOString(), lagSeconds: (i * 7919) % 97 })),
      warnings: Array.from({ length: 2_000 }, (_, i) => `warning number ${i}: ${'w'.repeat(100)}`),
    },
  };
}
