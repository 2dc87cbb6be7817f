import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BSON, type Document, type MongoClient } from 'mongodb';
import type { LocalReplicaSet } from '../../src/local/replica-set.js';
import { runChildCli, writeConfigFile, type ChildResult } from '../support/child-runner.js';
import { connect, startOwnCluster, uniqueName } from '../support/clusters.js';

/**
 * Secrets: a canary password — the real password of the root user of both clusters, with characters that
 * must be URL-encoded — is in both connection strings of one whole migration run through the CLI in a child
 * process: validate, plan, sync, tail, status, verify, cutover, abort, plus failing commands (a wrong
 * --confirm, an unreachable host), at log level trace (every line the code can log) and info, with --json and
 * as text. The canary, raw or encoded, must appear in no output and in no state document the engine keeps in
 * __mongo_live_migrate. (PR comment bodies, job summaries and action outputs are covered by
 * test/integration/action-run.test.ts, which runs the action with a canary of its own.)
 */
describe('secrets: the canary password never leaves the process', () => {
  const canary = `Cnry${randomBytes(4).toString('hex')}-p@ss/w:rd%`;
  const forms = [canary, encodeURIComponent(canary), JSON.stringify(canary).slice(1, -1)];
  let src: LocalReplicaSet;
  let dst: LocalReplicaSet;
  let source: MongoClient;
  let destination: MongoClient;
  const outputs: { what: string; result: ChildResult }[] = [];

  beforeAll(async () => {
    [src, dst] = await Promise.all([
      startOwnCluster({ name: 'sec-src', auth: { user: 'root', password: canary } }),
      startOwnCluster({ name: 'sec-dst', auth: { user: 'root', password: canary } }),
    ]);
    source = await connect(src.uri);
    destination = await connect(dst.uri);
  });

  afterAll(async () => {
    await source?.db('admin').command({ setUserWriteBlockMode: 1, global: false }).catch(() => undefined);
    await source?.close();
    await destination?.close();
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('appears in no log line, error, status JSON, text report or state document', async () => {
    expect(src.uri).toContain(encodeURIComponent(canary));
    const db = uniqueName('sec');
    await source.db(db).createCollection('accounts');
    await source.db(db).collection<Document>('accounts').insertMany(Array.from({ length: 1000 }, (_, i): Document => ({ _id: i, owner: `o${i}` })));
    const name = uniqueName('sec').replace(/_/g, '-');
    const file = writeConfigFile(name, [db], 'cutover: { maxLagSeconds: 5, lagHoldSeconds: 1 }\n');
    const env = { SOURCE_URI: src.uri, DESTINATION_URI: dst.uri };
    const run = async (what: string, args: string[], expected: number, extraEnv: Record<string, string> = {}): Promise<void> => {
      const result = await runChildCli([...args, '--config', file], { ...env, ...extraEnv });
      outputs.push({ what, result });
      expect(result.code, `${what}: ${result.stderr}`).toBe(expected);
    };

    await run('validate trace text', ['validate', '--log-level', 'trace'], 0);
    await run('validate info json', ['validate', '--json'], 0);
    await run('plan trace json', ['plan', '--log-level', 'trace', '--json'], 0);
    await run('sync trace text', ['sync', '--log-level', 'trace'], 0);
    await source.db(db).collection<Document>('accounts').updateMany({}, { $set: { touched: true } });
    await run('tail trace json', ['tail', '--log-level', 'trace', '--json', '--max-duration', '3s'], 0);
    await run('status info json', ['status', '--json'], 0);
    await run('status trace text', ['status', '--log-level', 'trace'], 0);
    await run('verify trace json', ['verify', '--log-level', 'trace', '--json'], 0);
    await run('cutover wrong confirm', ['cutover', '--log-level', 'trace', '--confirm', 'not-it'], 2);
    await run('cutover trace text', ['cutover', '--log-level', 'trace', '--confirm', name], 0);
    await run('status after cutover json', ['status', '--log-level', 'trace', '--json'], 0);
    await run('abort trace json', ['abort', '--log-level', 'trace', '--json', '--confirm', name], 0);
    // Failures print the connection string (redacted): a host that refuses, and one whose user is wrong.
    const refusedUri = src.uri.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9').replace(/replicaSet=[^&]+/, 'directConnection=true&serverSelectionTimeoutMS=1500');
    await run('status unreachable destination', ['status', '--log-level', 'trace'], 1, { DESTINATION_URI: refusedUri });
    await run('validate wrong user', ['validate', '--log-level', 'trace', '--json'], 1, { SOURCE_URI: src.uri.replace('mongodb://root:', 'mongodb://nobody:') });

    // Trace really logged (the check would prove nothing on empty output), and nothing carries the canary.
    expect(outputs.find((o) => o.what === 'sync trace text')!.result.stderr.split('\n').length).toBeGreaterThan(5);
    for (const { what, result } of outputs) {
      for (const form of forms) {
        expect(result.stdout, `${what} stdout`).not.toContain(form);
        expect(result.stderr, `${what} stderr`).not.toContain(form);
      }
    }

    // Every document of every state collection, as extended JSON.
    const state = destination.db('__mongo_live_migrate');
    let documents = 0;
    for (const { name: collection } of await state.listCollections({}, { nameOnly: true }).toArray()) {
      const docs = await state.collection(collection).find({}).toArray();
      documents += docs.length;
      const text = BSON.EJSON.stringify(docs, { relaxed: false });
      for (const form of forms) expect(text, `__mongo_live_migrate.${collection}`).not.toContain(form);
    }
    expect(documents).toBeGreaterThan(0);
    console.log(`[secrets] figure: ${outputs.length} CLI runs and ${documents} state documents without the canary`);
  });
});
