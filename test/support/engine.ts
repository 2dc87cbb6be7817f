import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Binary, BSON, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, BSONRegExp, type Document, type MongoClient } from 'mongodb';
import { parseConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { runTail } from '../../src/commands/tail.js';
import { runSync } from '../../src/commands/sync.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandOutcome } from '../../src/model.js';
import { createLogger, silentLogger, type LogLevel } from '../../src/log.js';
import { decodeElement, rawElements, type RawElement } from '../../src/mongo/raw-bson.js';
import { sharedClusters, uniqueName } from './clusters.js';

/** A Config for a test migration between two clusters, restricted to the given databases. */
export function testConfig(name: string, sourceUri: string, destinationUri: string, databases: string[], extra = ''): Config {
  const include = databases.map((db) => `"${db}.*"`).join(', ');
  const yaml = `version: 1\nname: ${name}\nsource: { uri: "\${SRC}" }\ndestination: { uri: "\${DST}" }\nnamespaces:\n  include: [${include}]\n${extra}`;
  return parseConfig(yaml, `${name}.yaml`, { env: { SRC: sourceUri, DST: destinationUri } });
}

/**
 * Ports for an engine run in a test. MLM_TEST_LOG=debug shows the engine's log while debugging;
 * MLM_TEST_ENGINE_LOG_DIR keeps each in-process run's debug log in a file of its own (what a hung run did last).
 */
export function testPorts(runner = `test-${process.pid}`, signal: AbortSignal = new AbortController().signal): EnginePorts {
  const level = process.env.MLM_TEST_LOG as LogLevel | undefined;
  const dir = process.env.MLM_TEST_ENGINE_LOG_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}-${runner.replace(/[^\w.-]/g, '_')}.log`);
    return { log: createLogger({ level: level ?? 'debug', destination: createWriteStream(file) }), signal, runner };
  }
  return { log: level ? createLogger({ level }) : silentLogger, signal, runner };
}

/**
 * Ports whose debug log is kept in memory, the last `capacity` lines: a test that may time out under load prints
 * them when it fails, so the run that failed in CI says where its time went (retries, restarts, waits).
 */
export function recordingPorts(runner: string, capacity = 400): { ports: EnginePorts; lines: () => string[] } {
  const kept: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) kept.push(line);
      if (kept.length > capacity) kept.splice(0, kept.length - capacity);
      callback();
    },
  });
  return { ports: { log: createLogger({ level: 'debug', destination }), signal: new AbortController().signal, runner }, lines: () => [...kept] };
}

/**
 * Runs short tail slices until one ends ready for cutover (caught up, every document verified), at most
 * `maxSlices`. Verification starts only once a slice's tail keeps up, and on a loaded machine a comparison and the
 * rechecks of a writer's documents can take more than one short slice: a test that means "ends ready" says so here
 * rather than betting on one slice's length.
 */
export async function tailUntilReady(config: Config, runner: string, options: { sliceMs?: number; maxSlices?: number } = {}): Promise<CommandOutcome> {
  let outcome = await runTail(config, { maxDurationMs: options.sliceMs ?? 3000 }, testPorts(runner));
  for (let slices = 1; outcome.exitCode === 0 && !outcome.progress?.readyForCutover && slices < (options.maxSlices ?? 10); slices++) {
    outcome = await runTail(config, { maxDurationMs: options.sliceMs ?? 3000 }, testPorts(runner));
  }
  return outcome;
}

/**
 * Runs short tail slices until one ends drained (lag 0: it read to the end of the stream), at most `maxSlices`:
 * after a writer stops, what is left may take more than one short slice, most of all after a run that fell
 * behind (a stalled path). A test that means "everything written is applied" says so here.
 */
export async function tailUntilDrained(config: Config, runner: string, options: { sliceMs?: number; maxSlices?: number } = {}): Promise<CommandOutcome & { slices: number }> {
  let slices = 0;
  for (;;) {
    const outcome = await runTail(config, { maxDurationMs: options.sliceMs ?? 3000 }, testPorts(runner));
    slices++;
    if (outcome.exitCode !== 0 || outcome.progress?.lagSeconds === 0 || slices >= (options.maxSlices ?? 10)) return { ...outcome, slices };
  }
}

/** Per-collection dbHash md5s of a database: equal exactly when contents and BSON types are equal. */
export async function dbHashes(client: MongoClient, db: string): Promise<Record<string, string>> {
  const result = await client.db(db).command({ dbHash: 1 });
  const collections = result.collections as Record<string, string>;
  return Object.fromEntries(Object.entries(collections).filter(([name]) => !name.startsWith('system.')));
}

/** An order-independent hash of a collection's raw BSON (for collections dbHash does not cover). */
export async function rawHash(client: MongoClient, db: string, coll: string): Promise<{ count: number; hash: string }> {
  const digests: string[] = [];
  for await (const raw of client.db(db).collection(coll).find({}, { raw: true }) as unknown as AsyncIterable<Buffer>) {
    digests.push(createHash('sha256').update(raw).digest('hex'));
  }
  digests.sort();
  return { count: digests.length, hash: createHash('sha256').update(digests.join('')).digest('hex') };
}

/**
 * The documents that differ between two sides of a collection, byte for byte, keyed by their `_id` in canonical
 * Extended JSON: what a failed hash comparison prints so a mismatch can be chased without rerunning.
 */
export async function collectionDifferences(source: MongoClient, destination: MongoClient, db: string, coll: string, limit = 10): Promise<string[]> {
  const read = async (client: MongoClient): Promise<Map<string, Buffer>> => {
    const byId = new Map<string, Buffer>();
    for await (const raw of client.db(db).collection(coll).find({}, { raw: true }) as unknown as AsyncIterable<Buffer>) {
      const doc = BSON.deserialize(raw, { promoteValues: false });
      byId.set(BSON.EJSON.stringify(doc._id as Document, { relaxed: false }), raw);
    }
    return byId;
  };
  const [src, dst] = await Promise.all([read(source), read(destination)]);
  const show = (raw: Buffer | undefined): string => (raw ? BSON.EJSON.stringify(BSON.deserialize(raw, { promoteValues: false }), { relaxed: false }) : 'missing');
  const differences: string[] = [];
  for (const id of new Set([...src.keys(), ...dst.keys()])) {
    const [a, b] = [src.get(id), dst.get(id)];
    if (a && b && a.equals(b)) continue;
    differences.push(`${id}: source ${show(a)} / destination ${show(b)}`);
    if (differences.length >= limit) break;
  }
  return differences;
}

/**
 * A migration of the shared clusters' `db`: synced, then one tail slice of a few seconds during which `change` runs
 * on the source. Both steps must exit 0 (the summary says why when one does not).
 */
export async function syncThenTailWhile(db: string, tag: string, change: () => Promise<void>): Promise<Config> {
  const { sourceUri, destinationUri } = sharedClusters();
  const config = testConfig(uniqueName(tag).replace(/_/g, '-'), sourceUri, destinationUri, [db], 'cutover: { maxLagSeconds: 5 }\n');
  const synced = await runSync(config, {}, testPorts(`${tag}-sync`));
  if (synced.exitCode !== 0) throw new Error(`sync exited with ${synced.exitCode}: ${synced.summary}`);
  const tail = runTail(config, { maxDurationMs: 8000 }, testPorts(`${tag}-tail`));
  await sleep(500);
  await change();
  const tailed = await tail;
  if (tailed.exitCode !== 0) throw new Error(`tail exited with ${tailed.exitCode}: ${tailed.summary}`);
  return config;
}

/**
 * Index names and keys of a collection, sorted; each key as its fields in stored order (read from the reply's raw
 * bytes: a decoded JS object lists integer-like names first, so `{x: 1, "2024": 1}` and `{"2024": 1, x: 1}`, two
 * different indexes, would read the same).
 */
export async function indexKeys(client: MongoClient, db: string, coll: string): Promise<string[]> {
  return (await rawIndexSpecs(client, db, coll)).map((spec) => `${String(BSON.deserialize(spec).name)}:${storedOrderText(elementValue(spec, 'key')!)}`).sort();
}

/** A collection's index specs as the raw bytes the server sent (one batch: at most 64 indexes). */
export async function rawIndexSpecs(client: MongoClient, db: string, coll: string): Promise<Buffer[]> {
  // fieldsAsRaw: a BSON option the driver passes through but does not declare for commands.
  const reply = await client.db(db).command({ listIndexes: coll, cursor: { batchSize: 1000 } }, { fieldsAsRaw: { firstBatch: true } } as Document);
  return (reply.cursor as { firstBatch: Buffer[] }).firstBatch;
}

/** The value bytes of a top-level field of a raw document. */
export function elementValue(doc: Buffer, name: string): Buffer | undefined {
  for (const element of rawElements(doc)) if (element.name.toString('utf8') === name) return Buffer.from(element.value);
  return undefined;
}

/** A raw document as text, fields in stored order at every level, values in canonical Extended JSON. */
export function storedOrderText(doc: Buffer): string {
  return `{${[...rawElements(doc)].map((e) => `${JSON.stringify(e.name.toString('utf8'))}:${storedValueText(e)}`).join(',')}}`;
}

function storedValueText(element: RawElement): string {
  if (element.type === 0x03) return storedOrderText(element.value);
  if (element.type === 0x04) return `[${[...rawElements(element.value)].map(storedValueText).join(',')}]`;
  return BSON.EJSON.stringify(decodeElement(element), { relaxed: false });
}

/** One document holding every BSON type the engine must carry exactly. */
export function everyTypeDocument(id: unknown): Document {
  return {
    _id: id,
    double: new Double(1),
    int32: new Int32(42),
    int64: Long.fromString('9007199254740993'),
    decimal: Decimal128.fromString('1234.5678901234567890'),
    string: 'héllo ✓',
    object: { nested: { deep: [1, [2, [3]]] } },
    array: [new Int32(1), new Double(2.5), 'three', null],
    binary: new Binary(Buffer.from('binary-data'), 0),
    uuid: new Binary(Buffer.from('0123456789abcdef'), 4),
    objectId: new ObjectId('64b7f0c2a1b2c3d4e5f60718'),
    bool: true,
    date: new Date('1969-07-20T20:17:40Z'),
    null: null,
    regex: new BSONRegExp('^a.b$', 'imsx'),
    code: new Code('function () { return 1; }'),
    timestamp: new Timestamp({ t: 1700000000, i: 7 }),
    minKey: new MinKey(),
    maxKey: new MaxKey(),
  };
}

export function bsonSize(doc: Document): number {
  return BSON.calculateObjectSize(doc);
}

// The one writer of the suite lives in writer.ts (options for an election-tolerant application).
export { Writer, type WriterOptions } from './writer.js';
