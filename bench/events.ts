import { BSON, Int32, ObjectId, Timestamp, UUID, type Document } from 'mongodb';
import { decodeChangeEvent } from '../src/engine/capture/change-event.js';
import { isRelevant } from '../src/engine/capture/change-stream.js';
import { sameDocumentKey } from '../src/engine/apply/id-key.js';
import { diffStatements } from '../src/engine/apply/update-diff.js';
import { EXACT_TYPES } from '../src/engine/copy/raw-insert.js';
import { NamespaceFilter } from '../src/namespaces.js';
import { percentile } from './common.js';

export interface EventFigures {
  events: number;
  rounds: number;
  /** Microseconds an event, best and median round. */
  reference: { best: number; median: number };
  /** Our decoder alone: the same work as the reference, for the routing fields only. */
  decode: { best: number; median: number };
  /** Everything the tail does to an event before its writes. */
  ours: { best: number; median: number };
}

/**
 * The tail's own CPU per change event, without MongoDB: the same raw events (a batch job's shape: updates with their
 * raw delta, inserts, deletes, ObjectId keys, four collections) through what the tail does to each before its writes
 * (decode the routing fields, decide it is the migration's, name its target, key it by document, translate an
 * update's delta), beside the reference of decoding each event whole with the BSON library. Both in this process,
 * rounds alternated: whole-process profiles of the burst vary more between runs on a shared machine than a change
 * to this path can move them (bench/README.md, fifth session).
 */
export function eventsScenario(options: { events: number; rounds: number }): EventFigures {
  const raws = burstEvents(options.events);
  const filter = new NamespaceFilter({ include: ['bench.*'], exclude: [], rename: {} });
  const reference = (): number => {
    let fields = 0;
    for (const raw of raws) fields += Object.keys(BSON.deserialize(raw, EXACT_TYPES)).length;
    return fields;
  };
  const decode = (): number => {
    let kept = 0;
    for (const raw of raws) if (decodeChangeEvent(raw).id !== undefined) kept++;
    return kept;
  };
  const ours = (): number => {
    let kept = 0;
    for (const raw of raws) {
      const event = decodeChangeEvent(raw);
      if (!isRelevant(event, filter)) continue;
      filter.target(event.ns.db, event.ns.coll!);
      sameDocumentKey(event.id);
      if (event.delta && !diffStatements(event.delta)) throw new Error('a delta of the bench could not be translated');
      kept++;
    }
    return kept;
  };
  const times = { reference: [] as number[], decode: [] as number[], ours: [] as number[] };
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, run] of [['reference', reference], ['decode', decode], ['ours', ours]] as const) {
      const started = performance.now();
      if (!run()) throw new Error(`${name}: nothing decoded`);
      times[name].push(((performance.now() - started) * 1000) / raws.length);
    }
  }
  const summary = (values: number[]): { best: number; median: number } => ({ best: Math.min(...values), median: percentile(values, 50) });
  return { events: raws.length, rounds: options.rounds, reference: summary(times.reference), decode: summary(times.decode), ours: summary(times.ours) };
}

/** Raw change events as a 7.0 stream hands them out for updateMany, insertMany and deleteMany over four collections. */
function burstEvents(count: number): Buffer[] {
  const uuids = [0, 1, 2, 3].map((c) => new UUID(String(c).repeat(32)));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const c = i % 4;
    const share = i / count;
    const kind = share < 0.77 ? 'update' : share < 0.92 ? 'insert' : 'delete';
    const _id = new ObjectId();
    const event: Document = {
      _id: { _data: `8265A1B2C3000000012B042C0100296E5A1004${'AB'.repeat(20)}${i}` },
      operationType: kind,
      clusterTime: new Timestamp({ t: 1_700_000_000, i: i + 1 }),
      wallTime: new Date(1_700_000_000_000 + i),
      collectionUUID: uuids[c],
      ns: { db: 'bench', coll: `c${c}` },
      documentKey: { _id },
    };
    if (kind === 'update') event.rawUpdateDescription = { $v: new Int32(2), diff: { u: { quantity: new Int32(i), status: 'burst-1' } } };
    if (kind === 'insert') event.fullDocument = { _id, n: new Int32(i), quantity: new Int32(i), status: 'a', email: `u${i}@example.org`, pad: 'p'.repeat(180) };
    out.push(Buffer.from(BSON.serialize(event)));
  }
  return out;
}
