import { createHash } from 'node:crypto';
import { BSON, type Document, type MongoClient } from 'mongodb';
import { expect } from 'vitest';

/** What must be equal of one namespace on both sides: its kind, the options that define it, its documents' bytes. */
export interface NamespaceSnapshot {
  kind: string;
  options: string;
  count: number;
  /** Order-independent hash of the raw documents; in natural order for a capped collection. */
  bytes: string;
  dbHash?: string;
}

/** Options that define a namespace; TTLs are left out (relaxed on the destination until cutover). */
const DEFINING = ['capped', 'size', 'max', 'collation', 'validator', 'validationLevel', 'validationAction', 'viewOn', 'pipeline', 'clusteredIndex', 'timeseries'];

/** Every namespace of these databases (system ones aside), read as raw bytes. */
export async function snapshot(client: MongoClient, databases: string[]): Promise<Map<string, NamespaceSnapshot>> {
  const out = new Map<string, NamespaceSnapshot>();
  for (const db of databases) {
    const infos = (await client.db(db).listCollections().toArray()) as Document[];
    const names = infos.filter((i) => !String(i.name).startsWith('system.')).map((i) => String(i.name));
    const hashes = names.length ? (((await client.db(db).command({ dbHash: 1, collections: names.filter((n) => infos.find((i) => i.name === n)?.type === 'collection') })).collections ?? {}) as Record<string, string>) : {};
    for (const info of infos) {
      const name = String(info.name);
      if (name.startsWith('system.')) continue;
      const options = (info.options ?? {}) as Document;
      const defining = Object.fromEntries(DEFINING.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
      const entry: NamespaceSnapshot = { kind: String(info.type), options: BSON.EJSON.stringify(defining, { relaxed: false }), count: 0, bytes: '' };
      if (info.type !== 'view') {
        const digests: string[] = [];
        const cursor = client.db(db).collection(name).find({}, { raw: true, sort: options.capped ? { $natural: 1 } : undefined }) as unknown as AsyncIterable<Buffer>;
        for await (const raw of cursor) digests.push(createHash('sha256').update(raw).digest('hex'));
        if (!options.capped) digests.sort();
        entry.count = digests.length;
        entry.bytes = createHash('sha256').update(digests.join('')).digest('hex');
        if (hashes[name]) entry.dbHash = hashes[name];
      }
      out.set(`${db}.${name}`, entry);
    }
  }
  return out;
}

/**
 * Asserts that the destination holds exactly the source's namespaces (extra ones on the destination
 * included), each with the same definition and the same documents, byte for byte.
 */
export async function expectSidesEqual(source: MongoClient, destination: MongoClient, databases: string[], rename: (ns: string) => string = (ns) => ns): Promise<void> {
  const expected = new Map([...(await snapshot(source, databases))].map(([ns, snap]) => [rename(ns), snap]));
  const targetDbs = [...new Set([...databases, ...[...expected.keys()].map((ns) => ns.slice(0, ns.indexOf('.')))])];
  const actual = await snapshot(destination, targetDbs);
  const describe = (map: Map<string, NamespaceSnapshot>): Record<string, string> =>
    Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([ns, s]) => [ns, `${s.kind} ${s.options} n=${s.count} ${s.bytes.slice(0, 12)} ${s.dbHash ?? ''}`]));
  expect(describe(actual)).toEqual(describe(expected));
}
