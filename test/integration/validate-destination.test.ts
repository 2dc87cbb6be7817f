import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { plan } from '../../src/commands/plan.js';
import { validate } from '../../src/commands/validate.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { CheckResult, CommandOutcome } from '../../src/model.js';
import { connect, sharedClusters, uniqueName } from '../support/clusters.js';

const check = (outcome: CommandOutcome, id: string): CheckResult => outcome.checks!.find((c) => c.id === id)!;

/**
 * validate knows the destination's name limits (a rename that makes a target too long fails, at the rule's
 * place in migration.yaml), and validate and plan say what else already lives in the target databases.
 */
describe('validate: the destination side', () => {
  let source: MongoClient;
  let destination: MongoClient;
  let dir: string;
  const db = uniqueName('lim');
  const longColl = `c${'x'.repeat(199)}`;

  beforeAll(async () => {
    source = await connect(sharedClusters().sourceUri);
    destination = await connect(sharedClusters().destinationUri);
    dir = mkdtempSync(join(tmpdir(), 'mlm-validate-'));
    await source.db(db).createCollection('c');
    await source.db(db).createCollection(longColl);
  });

  afterAll(async () => {
    await source?.close();
    await destination?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function configWith(rename: string[]): { file: string; lines: string[] } {
    const lines = ['version: 1', `name: ${uniqueName('lim').replace(/_/g, '-')}`, 'source: { uri: "${SRC}" }', 'destination: { uri: "${DST}" }', 'namespaces:', `  include: ["${db}.*"]`, '  rename:', ...rename.map((r) => `    ${r}`)];
    const file = join(dir, `${uniqueName('m')}.yaml`);
    writeFileSync(file, lines.join('\n') + '\n');
    return { file, lines };
  }
  const load = (file: string) => loadConfigFile(file, { env: { SRC: sharedClusters().sourceUri, DST: sharedClusters().destinationUri } });

  it('fails a rename that makes a target namespace or database name longer than the destination allows, at the rule', async () => {
    const longDb = `d${'y'.repeat(59)}`; // 60 bytes: a valid database name, but 60 + 1 + 200 > 255
    const tooLongDb = `e${'z'.repeat(69)}`; // 70 bytes > 63
    const { file } = configWith([`"${db}": "${longDb}"`, `"${db}.c": "${tooLongDb}.c"`]);
    const outcome = await validate(load(file), { connectTimeoutMs: 5000 });
    const limits = check(outcome, 'destination.namespace-limits');
    expect(limits.status, limits.message).toBe('fail');
    expect(outcome.exitCode).toBe(1);
    expect(limits.message).toMatch(/2 target namespaces longer than the destination allows/);
    expect(limits.message).toMatch(/database name 70 bytes > 63/);
    expect(limits.message).toMatch(/261 bytes > 255/);
    // Each rule at its place in the file: lines 8 and 9, the column of the target name.
    const column = (key: string): number => 5 + `"${key}": `.length;
    expect(limits.remedy).toContain(`namespaces.rename "${db}" (${file}:8:${column(db)})`);
    expect(limits.remedy).toContain(`namespaces.rename "${db}.c" (${file}:9:${column(`${db}.c`)})`);
    expect(limits.remedy).toMatch(/at most 63 bytes and every "database.collection" at most 255 bytes/);

    // Within the limits: passes.
    const fine = await validate(load(configWith([`"${db}": "${uniqueName('ok')}"`]).file), { connectTimeoutMs: 5000 });
    expect(check(fine, 'destination.namespace-limits').status).toBe('pass');
  });

  it('validate and plan name what else lives in the target databases, and whose it is', async () => {
    const shared = uniqueName('tenant');
    await destination.db(shared).collection('app_sessions').insertOne({ _id: 1 } as Document);
    const other = uniqueName('other-migration');
    const state = destination.db('__mongo_live_migrate').collection<Document>('migrations');
    await state.insertOne({ _id: other, collections: [{ source: 'x.theirs', target: `${shared}.theirs` }] } as Document);
    await destination.db(shared).createCollection('theirs');
    try {
      const config = load(configWith([`"${db}": "${shared}"`]).file);
      const outcome = await validate(config, { connectTimeoutMs: 5000 });
      const neighbours = check(outcome, 'destination.neighbours');
      expect(neighbours.status).toBe('warn');
      expect(neighbours.message).toContain(`2 other namespaces already live in the target databases: ${shared}.app_sessions, ${shared}.theirs (migration "${other}")`);
      expect(outcome.exitCode).toBe(0);
      const planned = await plan(config);
      expect(planned.summary).toContain(`the target databases already hold 2 other namespaces (${shared}.app_sessions, ${shared}.theirs (migration "${other}")), left alone and not verified`);
    } finally {
      await state.deleteOne({ _id: other } as Document);
    }
  });
});
