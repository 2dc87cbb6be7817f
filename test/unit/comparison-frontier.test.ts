import { describe, expect, it } from 'vitest';
import { Binary, BSON, Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { ComparisonFrontier } from '../../src/engine/verify/continuous/frontier.js';
import type { VerifyPartitionDoc } from '../../src/engine/state/types.js';
import { idKeyOf } from '../../src/engine/verify/continuous/id-order.js';

const key = (id: unknown): Buffer => Buffer.from(BSON.serialize({ _id: id }));
const partition = (typeClass: string, extra: Partial<VerifyPartitionDoc> = {}): VerifyPartitionDoc => ({
  _id: `m|db.c|${typeClass}`,
  migration: 'm',
  source: 'db.c',
  target: 'db.c',
  typeClass,
  epoch: 'e1',
  documentsCompared: 0,
  queued: 0,
  done: false,
  ...extra,
});
const pairs = (collation?: Document): { source: string; sourceInfo: { options?: Document } }[] => [{ source: 'db.c', sourceInfo: { options: collation ? { collation } : {} } }];

describe('ComparisonFrontier: which touched documents a partition comparison will still read', () => {
  it('knows nothing until told: every document is queued', () => {
    const frontier = new ComparisonFrontier();
    expect(frontier.willCompare('db.c', key(1))).toBe(false);
  });

  it('a planned partition not started yet will read every document of its class, and only of its class', () => {
    const frontier = new ComparisonFrontier();
    frontier.learn(partition('number'));
    expect(frontier.willCompare('db.c', key(new Int32(5)))).toBe(true);
    expect(frontier.willCompare('db.c', key(new Double(-1e300)))).toBe(true);
    expect(frontier.willCompare('db.c', key('5'))).toBe(false); // no string partition
    expect(frontier.willCompare('db.other', key(5))).toBe(false);
  });

  it('after a step, only what lies strictly after the last _id compared is left to it', () => {
    const frontier = new ComparisonFrontier();
    const p = partition('number');
    frontier.learn(p);
    frontier.begin(p);
    // While the step reads, nothing of the partition is left to it.
    expect(frontier.willCompare('db.c', key(new Int32(1_000)))).toBe(false);
    frontier.end(p, { lastKey: idKeyOf(new Int32(100)), done: false });
    expect(frontier.willCompare('db.c', key(new Int32(100)))).toBe(false);
    expect(frontier.willCompare('db.c', key(new Double(100)))).toBe(false); // equal as _ids
    expect(frontier.willCompare('db.c', key(new Double(100.5)))).toBe(true);
    expect(frontier.willCompare('db.c', key(Long.fromNumber(101)))).toBe(true);
    expect(frontier.willCompare('db.c', key(new Double(Number.NaN)))).toBe(false); // NaN sorts first
    frontier.end(p, { lastKey: idKeyOf(new Int32(200)), done: true });
    // Ignored: the step is over and its partition done.
    expect(frontier.willCompare('db.c', key(new Int32(1_000)))).toBe(false);
  });

  it('learns where a saved partition stands from its last _id bytes, or from a decoded last _id saved by an earlier version', () => {
    const frontier = new ComparisonFrontier();
    frontier.learn(partition('number', { lastIdKey: new Binary(idKeyOf(Long.fromNumber(100))) }));
    expect(frontier.willCompare('db.c', key(new Int32(100)))).toBe(false);
    expect(frontier.willCompare('db.c', key(new Int32(101)))).toBe(true);
    const legacy = new ComparisonFrontier();
    legacy.learn(partition('number', { lastId: new Int32(100) }));
    expect(legacy.willCompare('db.c', key(new Double(100)))).toBe(false);
    expect(legacy.willCompare('db.c', key(new Double(100.5)))).toBe(true);
  });

  it('a failed step, a step of another epoch or a reset leaves the partition unknown (queued)', () => {
    const frontier = new ComparisonFrontier();
    const p = partition('objectId', { lastId: new ObjectId('000000000000000000000010') });
    frontier.learn(p);
    const later = new ObjectId('000000000000000000000020');
    expect(frontier.willCompare('db.c', key(later))).toBe(true);
    frontier.begin(p);
    frontier.end(p);
    expect(frontier.willCompare('db.c', key(later))).toBe(false);

    frontier.learn(p);
    const replanned = { ...p, epoch: 'e2' };
    delete replanned.lastId;
    frontier.begin(replanned);
    frontier.end(p, { lastKey: idKeyOf(later), done: false }); // the old epoch's step: not this partition any more
    expect(frontier.willCompare('db.c', key(new ObjectId('000000000000000000000030')))).toBe(false); // e2 is mid-step
    frontier.end(replanned, { lastKey: idKeyOf(later), done: false });
    expect(frontier.willCompare('db.c', key(new ObjectId('000000000000000000000030')))).toBe(true);

    frontier.forget(['db.c'], []);
    expect(frontier.willCompare('db.c', key(new ObjectId('000000000000000000000030')))).toBe(false);
    frontier.learn(replanned);
    frontier.forget([], ['db']);
    expect(frontier.willCompare('db.c', key(new ObjectId('000000000000000000000030')))).toBe(false);
    frontier.learn(replanned);
    frontier.forgetAll();
    expect(frontier.willCompare('db.c', key(new ObjectId('000000000000000000000030')))).toBe(false);
  });

  it('strings are placed only in a collection that compares them by bytes', () => {
    const frontier = new ComparisonFrontier();
    frontier.learn(partition('string', { lastId: 'm' }));
    expect(frontier.willCompare('db.c', key('z'))).toBe(false); // collations unknown
    frontier.collations(pairs());
    expect(frontier.willCompare('db.c', key('z'))).toBe(true);
    expect(frontier.willCompare('db.c', key('m'))).toBe(false);
    expect(frontier.willCompare('db.c', key('a'))).toBe(false);
    expect(frontier.willCompare('db.c', key('mm'))).toBe(true);
    frontier.collations(pairs({ locale: 'en', strength: 2 }));
    expect(frontier.willCompare('db.c', key('z'))).toBe(false);
    frontier.collations(pairs({ locale: 'simple' }));
    expect(frontier.willCompare('db.c', key('z'))).toBe(true);
  });

  it('a step in flight is not overwritten by what the state said before it', () => {
    const frontier = new ComparisonFrontier();
    const p = partition('date', { lastId: new Date(0) });
    frontier.learn(p);
    frontier.begin(p);
    frontier.learn(p); // e.g. planning read the state while the step ran
    expect(frontier.willCompare('db.c', key(new Date(5)))).toBe(false);
    frontier.end(p, { lastKey: idKeyOf(new Date(10)), done: false });
    expect(frontier.willCompare('db.c', key(new Date(5)))).toBe(false);
    expect(frontier.willCompare('db.c', key(new Date(11)))).toBe(true);
    expect(frontier.willCompare('db.c', key(new Date(-86_400_000)))).toBe(false); // before 1970 sorts first
  });
});
