import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig, MAX_CONFIG_BYTES } from '../../src/config/index.js';

const env = { SOURCE_URI: 'mongodb://migrator:s3cret-canary@db1:27017/?replicaSet=rs0', DESTINATION_URI: 'mongodb://localhost:27018/' };
const minimal = 'version: 1\nname: demo\nsource: { uri: "${SOURCE_URI}" }\ndestination: { uri: "${DESTINATION_URI}" }\n';

function problems(text: string, file = 'migration.yaml', extraEnv: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, file, { env: { ...env, ...extraEnv } });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('expected the configuration to be rejected');
}

describe('migration.yaml loader', () => {
  it('accepts the example and fills every default', () => {
    const config = loadConfigFile('examples/migration.yaml', { env });
    expect(config.name).toBe('orders-to-atlas');
    expect(config.source.uri).toBe(env.SOURCE_URI);
    expect(config.namespaces.rename).toEqual({ 'crm.customers': 'crm.clients' });
    expect(config.tail.maxDurationMs).toBe(5.5 * 3600 * 1000);
    expect(config.sync.partitionSizeMB).toBe(256);
  });

  it('applies defaults to a minimal file', () => {
    const config = parseConfig(minimal, 'm.yaml', { env });
    expect(config.namespaces).toEqual({ include: ['*.*'], exclude: [], rename: {} });
    expect(config.sync).toEqual({ parallelCollections: 4, batchSize: 1000, partitionSizeMB: 256, dropDestination: false });
    expect(config.cutover).toEqual({ maxLagSeconds: 5, lagHoldSeconds: 10, writeBlock: 'source', verify: 'hash' });
    expect(config.report.pullRequestComment).toBe(true);
    expect(config.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('locates bad indentation', () => {
    expect(problems('version: 1\nname: demo\nsource:\n  uri: "${SOURCE_URI}"\n   extra: 1\n')[0]).toMatch(/^migration\.yaml:5:\d+: /);
  });

  it('locates an unknown key and lists the allowed ones', () => {
    const [first] = problems(`${minimal}sync:\n  batchSize: 10\n  paralel: 3\n`);
    expect(first).toBe('migration.yaml:7:3: unknown key "paralel"; expected one of: parallelCollections, batchSize, partitionSizeMB, dropDestination (at /sync/paralel)');
  });

  it('locates a wrong type', () => {
    expect(problems(`${minimal}sync:\n  batchSize: ten\n`)).toContain('migration.yaml:6:14: expected integer (at /sync/batchSize)');
  });

  it('names a missing environment variable and its line', () => {
    const lines = problems('version: 1\nname: demo\nsource: { uri: "${SOURCE_URI}" }\ndestination:\n  uri: ${MISSING_DEST}\n');
    expect(lines).toContain('migration.yaml:5:8: environment variable MISSING_DEST is not set (referenced as ${MISSING_DEST}) (at /destination/uri)');
  });

  it('refuses a password written in the file without repeating it', () => {
    const lines = problems('version: 1\nname: demo\nsource:\n  uri: mongodb://admin:hunter22@db1/\ndestination: { uri: "${DESTINATION_URI}" }\n');
    expect(lines[0]).toMatch(/^migration\.yaml:4:8: source\.uri holds a password written in the file/);
    expect(lines.join('\n')).not.toContain('hunter22');
  });

  it('accepts a password that comes from a variable', () => {
    const config = parseConfig('version: 1\nname: demo\nsource: { uri: "mongodb://admin:${PW}@db1/" }\ndestination: { uri: "${DESTINATION_URI}" }\n', 'm.yaml', { env: { ...env, PW: 'p' } });
    expect(config.source.uri).toBe('mongodb://admin:p@db1/');
  });

  it('reports duplicated keys', () => {
    expect(problems(`${minimal}name: again\n`)[0]).toMatch(/^migration\.yaml:5:1: Map keys must be unique/);
  });

  it('reports every problem in one run', () => {
    const lines = problems('version: 2\nname: Bad_Name\nsource: { uri: "${SOURCE_URI}" }\ndestination: { uri: "${DESTINATION_URI}" }\ntail: { maxDuration: 5x }\ncutover: { writeBlock: maybe, verify: all }\n');
    expect(lines.filter((l) => /^migration\.yaml:\d+:\d+: /.test(l))).toHaveLength(5);
  });

  it('rejects rename targets that collide and database/collection mismatches', () => {
    const lines = problems(`${minimal}namespaces:\n  rename:\n    a.x: c.z\n    b.y: c.z\n    shop: shop2.coll\n`);
    expect(lines.some((l) => l.includes('would both be renamed to "c.z"'))).toBe(true);
    expect(lines.some((l) => l.includes('a database renames to a database'))).toBe(true);
  });

  it('rejects an empty file, a missing file and a huge file with a position', () => {
    expect(problems('')[0]).toMatch(/^migration\.yaml:1:1: the file is empty/);
    expect(() => loadConfigFile('/nonexistent/migration.yaml')).toThrow('/nonexistent/migration.yaml:1:1: file not found');
    const dir = mkdtempSync(join(tmpdir(), 'mlm-config-'));
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(() => loadConfigFile(huge)).toThrow(/huge\.yaml:1:1: the file is \d+ bytes/);
  });

  it('keeps $${ as a literal and rejects a malformed reference', () => {
    const config = parseConfig('version: 1\nname: x\nsource: { uri: "${SOURCE_URI}" }\ndestination: { uri: "mongodb://h/?appName=a$${b}" }\n', 'm.yaml', { env });
    expect(config.destination.uri).toBe('mongodb://h/?appName=a${b}');
    expect(problems(`${minimal}namespaces: { include: ["\${1BAD}.x"] }\n`)[0]).toContain('is not a valid reference');
  });
});

describe('migration.yaml as a new user meets it (issue 15)', () => {
  it('reports a directory given as --config as one located problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlm-config-dir-'));
    expect(() => loadConfigFile(dir)).toThrow(ConfigError);
    expect(() => loadConfigFile(dir)).toThrow(`${dir}:1:1: this is a directory; --config takes a migration file, for example ${join(dir, 'migration.yaml')}`);
  });

  it('reports every missing required key in one run', () => {
    const lines = problems('version: 1\n');
    for (const key of ['name', 'source', 'destination']) expect(lines.some((l) => l.includes(`missing required key "${key}"`)), key).toBe(true);
  });

  it('lists problems in file order', () => {
    const lines = problems('version: 1\nname: demo\nsource: { uri: "${NOPE_UNSET}" }\ndestination: { uri: "${DESTINATION_URI}" }\ncutover: { verify: all }\nsync: { batchSize: 0 }\nbogus: 1\n');
    const positions = lines.map((l) => /^migration\.yaml:(\d+):(\d+): /.exec(l)).filter((m) => m !== null).map((m) => Number(m[1]) * 1000 + Number(m[2]));
    expect(positions.length).toBeGreaterThanOrEqual(4);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('rejects empty names between dots in namespaces and renames', () => {
    expect(problems(`${minimal}namespaces: { include: ["crm..customers"] }\n`).join('\n')).toMatch(/^migration\.yaml:5:\d+: expected a "database.collection" pattern/);
    expect(problems(`${minimal}namespaces: { exclude: ["crm.customers."] }\n`).join('\n')).toContain('expected a "database.collection" pattern');
    expect(problems(`${minimal}namespaces: { rename: { crm.customers: "crm..clients" } }\n`).join('\n')).toContain('without wildcards');
    // Dots inside a collection name stay legal.
    expect(parseConfig(`${minimal}namespaces: { include: ["app.system.views.x", "*.*"] }\n`, 'm.yaml', { env }).namespaces.include).toHaveLength(2);
  });

  it('still requires a connection string once variables are substituted', () => {
    expect(problems('version: 1\nname: x\nsource: { uri: "$${SOURCE_URI}" }\ndestination: { uri: "${DESTINATION_URI}" }\n')[0]).toMatch(/^migration\.yaml:3:\d+: expected a mongodb:\/\/ or mongodb\+srv:\/\/ connection string/);
  });
});
