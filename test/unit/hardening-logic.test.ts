import { describe, expect, it } from 'vitest';
import { Timestamp } from 'mongodb';
import { assessNamespaceLimits, namespaceLimits } from '../../src/checks/namespace-limits.js';
import { assertSameClusters, sameCluster } from '../../src/engine/cluster-identity.js';
import { appliedPosition, savedPositionTime, tokenTime } from '../../src/engine/position.js';
import { assessReadiness } from '../../src/engine/readiness.js';
import type { MigrationDoc } from '../../src/engine/state/types.js';
import { UserError } from '../../src/errors.js';

const ts = (t: number, i = 1): Timestamp => new Timestamp({ t, i });
/** A resume token as the server writes it: KeyString type 0x82 (Timestamp), then the time big-endian. */
const token = (t: number, i = 1): { _data: string } => ({ _data: `82${t.toString(16).padStart(8, '0')}${i.toString(16).padStart(8, '0')}2B0229296E04` });

function doc(over: Partial<MigrationDoc> = {}): MigrationDoc {
  const now = new Date();
  return { _id: 'm', configHash: 'h', phase: 'tailing', createdAt: now, updatedAt: now, history: [], lease: null, collections: [], copy: {}, replay: { nextSeq: 0 }, eventsApplied: 0, lagSeconds: 0, lagHistory: [{ at: now.toISOString(), lagSeconds: 0 }], warnings: [], ...over };
}

describe('saved position times', () => {
  it('decodes a resume token\'s cluster time and keeps the wall time it stands for', () => {
    expect(tokenTime(token(1_700_000_000, 7))!.equals(ts(1_700_000_000, 7))).toBe(true);
    expect(tokenTime({ _data: 'zz' })).toBeUndefined();
    expect(appliedPosition(token(1_700_000_000))).toEqual({ token: token(1_700_000_000), wallTime: new Date(1_700_000_000_000) });
    // The last event's milliseconds when it is later than the token's whole second; the token's when idle.
    expect(appliedPosition(token(1_700_000_000), new Date(1_700_000_000_750)).wallTime).toEqual(new Date(1_700_000_000_750));
    expect(appliedPosition(token(1_700_000_000), new Date(1_699_999_990_000)).wallTime).toEqual(new Date(1_700_000_000_000));
    expect(savedPositionTime(doc({ applied: { token: token(100) }, captureStart: { operationTime: ts(50), at: new Date() } }))!.equals(ts(100))).toBe(true);
    expect(savedPositionTime(doc({ captureStart: { operationTime: ts(50), at: new Date() } }))!.equals(ts(50))).toBe(true);
  });
});

describe('readiness now', () => {
  const now = 1_700_000_000_000;
  const at = (secondsAgo: number): string => new Date(now - secondsAgo * 1000).toISOString();
  const seconds = now / 1000;

  it('is ready with a fresh slice, a small lag and a position well inside the oplog', () => {
    const r = assessReadiness(doc({ applied: { token: token(seconds - 1) }, lagHistory: [{ at: at(10), lagSeconds: 0 }] }), { first: ts(seconds - 86_400), latest: ts(seconds - 1) }, { maxLagSeconds: 5, now });
    expect(r).toEqual({ ready: true, reasons: [], warnings: [], lagSeconds: 0, headroomSeconds: 86_399 });
  });

  it('names every reason: stale slice, lag now, lost position', () => {
    const stale = assessReadiness(doc({ applied: { token: token(seconds - 1) }, lagHistory: [{ at: at(600), lagSeconds: 0 }] }), { first: ts(seconds - 86_400), latest: ts(seconds) }, { maxLagSeconds: 5, now });
    expect(stale.ready).toBe(false);
    expect(stale.reasons).toEqual(['the last slice measured the lag 10 min ago (fresh means within 5 min): run tail']);
    const lagging = assessReadiness(doc({ applied: { token: token(seconds - 60) } }), { first: ts(seconds - 86_400), latest: ts(seconds) }, { maxLagSeconds: 5, now });
    expect(lagging.lagSeconds).toBe(60);
    expect(lagging.reasons[0]).toMatch(/^lag now 60 s/);
    const lost = assessReadiness(doc({ applied: { token: token(seconds - 7200) } }), { first: ts(seconds - 3600), latest: ts(seconds) }, { maxLagSeconds: 5, now });
    expect(lost.headroomSeconds).toBe(0);
    expect(lost.reasons[0]).toMatch(/is no longer in the source oplog/);
    expect(assessReadiness(doc(), null, { maxLagSeconds: 5, now }).reasons).toContain('the source oplog could not be read, so the lag cannot be measured');
  });

  it('warns well before the position leaves the oplog', () => {
    // A 2 h window with the position 70 min old: 50 min left, under the hour (and under half the window).
    const r = assessReadiness(doc({ applied: { token: token(seconds - 4200) } }), { first: ts(seconds - 7200), latest: ts(seconds) }, { maxLagSeconds: 5000, now });
    expect(r.ready).toBe(true);
    expect(r.warnings).toEqual(['the saved position leaves the source oplog in about 50 min (oplog window 2.0 h): run tail now, or enlarge the source oplog (replSetResizeOplog)']);
  });
});

describe('cluster binding', () => {
  it('compares by replicaSetId where both have it, by set name otherwise', () => {
    expect(sameCluster({ setName: 'a', replicaSetId: '1' }, { setName: 'a', replicaSetId: '2' })).toBe(false);
    expect(sameCluster({ setName: 'a', replicaSetId: '1' }, { setName: 'b', replicaSetId: '1' })).toBe(true);
    expect(sameCluster({ setName: 'a' }, { setName: 'b', replicaSetId: '1' })).toBe(false);
    expect(sameCluster({}, { setName: 'b' })).toBe(true);
    expect(() => assertSameClusters('m', { source: { setName: 'a' } }, { source: { setName: 'b' }, destination: {} })).toThrow(UserError);
    expect(() => assertSameClusters('m', {}, { source: { setName: 'b' }, destination: {} })).not.toThrow();
  });
});

describe('namespace limits', () => {
  it('uses the limits of the destination version and names the rule', () => {
    expect(namespaceLimits({ version: '7.0.15', versionArray: [7, 0, 15] })).toEqual({ namespaceBytes: 255, databaseBytes: 63 });
    const rules = { include: ['a.*'], exclude: [], rename: { a: 'b'.repeat(64) } };
    const finding = assessNamespaceLimits(rules, [{ db: 'a', coll: 'c', target: { db: 'b'.repeat(64), coll: 'c' } }], { namespaceBytes: 255, databaseBytes: 63 });
    expect(finding.status).toBe('fail');
    expect(finding.message).toContain('database name 64 bytes > 63');
    expect(finding.remedy).toContain('namespaces.rename "a"');
    // Bytes, not characters: "é" is two bytes.
    const multiByte = assessNamespaceLimits({ include: ['a.*'], exclude: [], rename: {} }, [{ db: 'a', coll: 'é'.repeat(127), target: { db: 'a', coll: 'é'.repeat(127) } }], { namespaceBytes: 255, databaseBytes: 63 });
    expect(multiByte.status).toBe('fail');
    expect(multiByte.message).toContain('256 bytes > 255');
  });
});
