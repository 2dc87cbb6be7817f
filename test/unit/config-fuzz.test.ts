import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clearSecrets } from '../../src/redact.js';
import { runCli } from '../support/cli.js';
import { seededRandom } from '../../src/seeded-random.js';

/**
 * Reliability: at least 1,000 broken migration.yaml files from a seeded generator, each run through the real
 * CLI entry (main(), in-process, captured streams) as `validate --config <file>`. Every one must exit 2 with
 * at least one `file:line:col: message` line, print no stack trace, and never show the canary password that
 * is in both connection strings. Where the generator knows which line it broke, the error must name it.
 * Reproduce a run with MLM_SEED=<seed printed below>.
 */

const SEED = Number(process.env.MLM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.MLM_FUZZ_CASES ?? 1200);
const CANARY = 'Fuzz-Canary-7q2x';
const ENV = {
  SOURCE_URI: `mongodb://migrator:${CANARY}@db1.invalid:27017/?replicaSet=rs0`,
  DESTINATION_URI: `mongodb://migrator:${encodeURIComponent(CANARY)}@cluster0.invalid/`,
};
const STACK = /\n\s+at /;
const MAX_CONFIG_BYTES = 1024 * 1024;

// ---- a small model of a valid file, rendered to lines so that a mutation knows its line number ----

interface Entry {
  key: string;
  /** A scalar's YAML text (already quoted as needed), or a nested mapping. */
  value: string | Entry[];
  /** Set by a mutation: the error must be reported on this entry's line. */
  mark?: boolean;
  /** Raw text for the line instead of `key: value` (syntax mutations). */
  raw?: string;
}

function validModel(r: Rand): Entry[] {
  const quote = (s: string): string => r.pick([`"${s}"`, `'${s}'`, s.includes('$') || s.includes('*') || s.includes(':') ? `"${s}"` : s]);
  const sections: Entry[] = [
    { key: 'source', value: [{ key: 'uri', value: '"${SOURCE_URI}"' }] },
    { key: 'destination', value: [{ key: 'uri', value: '"${DESTINATION_URI}"' }] },
    { key: 'namespaces', value: [{ key: 'include', value: '["app.*", "billing.invoices"]' }, { key: 'exclude', value: '["app.tmp_*"]' }, { key: 'rename', value: '{ "billing": "finance" }' }] },
    { key: 'sync', value: [{ key: 'parallelCollections', value: String(r.int(1, 16)) }, { key: 'batchSize', value: String(r.int(1, 5000)) }, { key: 'partitionSizeMB', value: '256' }, { key: 'dropDestination', value: 'false' }] },
    { key: 'tail', value: [{ key: 'maxDuration', value: quote(r.pick(['5h30m', '45m', '90s', '1h'])) }, { key: 'batchSize', value: '1000' }] },
    { key: 'cutover', value: [{ key: 'maxLagSeconds', value: '5' }, { key: 'lagHoldSeconds', value: '10' }, { key: 'writeBlock', value: quote('source') }, { key: 'verify', value: quote('hash') }] },
    { key: 'report', value: [{ key: 'pullRequestComment', value: 'true' }] },
  ];
  // Optional sections come and go, and their order varies: positions are never where a test hard-codes them.
  const kept = sections.filter((s) => s.key === 'source' || s.key === 'destination' || r.chance(0.8));
  return [{ key: 'version', value: '1' }, { key: 'name', value: quote(`fuzz-${r.int(0, 999)}`) }, ...r.shuffle(kept)];
}

function render(model: Entry[], r: Rand, indentWidth: number): { text: string; marked: number[]; lines: number } {
  const out: string[] = [];
  const marked: number[] = [];
  const walk = (entries: Entry[], depth: number): void => {
    for (const entry of entries) {
      if (r.chance(0.1)) out.push(`${' '.repeat(depth * indentWidth)}# ${r.word()}`);
      if (r.chance(0.05)) out.push('');
      const pad = ' '.repeat(depth * indentWidth);
      out.push(entry.raw !== undefined ? entry.raw : typeof entry.value === 'string' ? `${pad}${entry.key}: ${entry.value}` : `${pad}${entry.key}:`);
      if (entry.mark) marked.push(out.length);
      if (typeof entry.value !== 'string' && entry.raw === undefined) walk(entry.value, depth + 1);
    }
  };
  walk(model, 0);
  return { text: out.join('\n') + '\n', marked, lines: out.length };
}

class Rand {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  shuffle<T>(items: T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
  word(): string {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    return Array.from({ length: this.int(3, 10) }, () => letters[this.int(0, 25)]).join('');
  }
}

const section = (model: Entry[], key: string): Entry | undefined => model.find((e) => e.key === key);
const leaf = (model: Entry[], path: string): Entry | undefined => {
  const [top, child] = path.split('.') as [string, string | undefined];
  const s = section(model, top);
  if (!s || child === undefined) return s;
  return typeof s.value === 'string' ? undefined : s.value.find((e) => e.key === child);
};
/** A mutation that cannot apply (its section was already replaced by a scalar): a combination skips it. */
class Blocked extends Error {}

/** Returns the mapping an entry belongs to, creating a missing optional section. */
const ensureSection = (model: Entry[], key: string): Entry[] => {
  let s = section(model, key);
  if (!s) {
    s = { key, value: [] };
    model.push(s);
  }
  if (typeof s.value === 'string' || s.raw !== undefined) throw new Blocked();
  return s.value;
};

// ---- the kinds of breakage; each returns the section it touched (combinations never touch one twice) ----

type Kind = 'wrong-type' | 'unknown-key' | 'bad-glob' | 'bad-duration' | 'missing-env' | 'duplicate-key' | 'yaml-syntax' | 'huge-file' | 'literal-password' | 'missing-key' | 'not-a-mapping' | 'out-of-range';
/** Kinds found by the schema pass: several in one file are all reported, each on its line. */
const COMBINABLE: Kind[] = ['wrong-type', 'unknown-key', 'bad-glob', 'missing-env', 'literal-password', 'out-of-range'];

interface Mutation {
  /** Sections it touched. */
  touches: string[];
  /** Whether the error's line is known exactly (the marked line). */
  exact: boolean;
  /** Found only once the schema passes: another breakage in the same file would hide it. */
  alone?: boolean;
}

const WRONG_TYPES: [string, string[]][] = [
  ['version', ['"1"', '2', '1.5', '[1]', 'one', 'true', '{ v: 1 }']],
  ['name', ['123', '[a, b]', '{ x: 1 }', 'true', 'Upper-Case', '"-leading-dash"', '"has space"', '"under_score"', `"${'x'.repeat(70)}"`, '""']],
  ['source', ['"mongodb://db1"', '42', '[a]', 'null']],
  ['destination', ['"mongodb://db1"', '42', '[a]']],
  ['source.uri', ['42', '[a]', '{ host: db1 }', '"postgres://db1"', '"db1:27017"', 'true', 'null']],
  ['destination.uri', ['42', '"http://x"', '~', '[]']],
  ['namespaces', ['"*.*"', '[a.b]', '7']],
  ['namespaces.include', ['"app.*"', '42', '{ a: b }', '[1, 2]', '[[a.b]]']],
  ['namespaces.exclude', ['"app.tmp"', 'true', '[{}]']],
  ['namespaces.rename', ['[a]', '"a"', '{ "a": 1 }', '{ "a.b": [x] }']],
  ['sync', ['"fast"', '[1]', '4']],
  ['sync.parallelCollections', ['"four"', '4.5', 'true', '[4]', '"4"']],
  ['sync.batchSize', ['"many"', '10.25', 'null', '{ n: 1 }']],
  ['sync.partitionSizeMB', ['"256MB"', '0.5', 'false']],
  ['sync.dropDestination', ['"yes"', 'yes', '1', '"true"', 'on', '[true]']],
  ['tail', ['"5h"', '[1]']],
  ['tail.batchSize', ['"1k"', '1.5', 'true']],
  ['tail.maxDuration', ['90', 'true', '[45m]', '{ h: 5 }', 'null']],
  ['cutover', ['"now"', '1']],
  ['cutover.maxLagSeconds', ['"5s"', 'true', '[5]']],
  ['cutover.lagHoldSeconds', ['"10s"', '{}']],
  ['cutover.writeBlock', ['"maybe"', 'true', 'Source', '"SOURCE"', '1', '"destination"']],
  ['cutover.verify', ['"sha256"', 'yes', '"full"', '0']],
  ['report', ['true', '"comment"']],
  ['report.pullRequestComment', ['"true"', '1', 'no', '"off"']],
];
const OUT_OF_RANGE: [string, string[]][] = [
  ['sync.parallelCollections', ['0', '-1', '65', '1000000']],
  ['sync.batchSize', ['0', '-5', '100001']],
  ['sync.partitionSizeMB', ['0', '1048577', '-256']],
  ['tail.batchSize', ['0', '100001']],
  ['cutover.maxLagSeconds', ['0', '-1', '3601']],
  ['cutover.lagHoldSeconds', ['-1', '601']],
];
const BAD_GLOBS = ['"nodot"', '"app"', '"$app.orders"', '"app.$orders"', '"app.or$ders"', '" app.orders"', '"app .orders"', '".orders"', '"app."', '"a b.c"', '"app.*$"', '""', '"\\tapp.x"', '"app\\n.x"', '"$*.*"'];
/** Renames the schema rejects (reported with any other schema problem). */
const BAD_RENAMES = ['{ "app.*": "x.y" }', '{ "a?": "b" }', '{ "$a": "b" }', '{ "a b": "c" }', '{ "a": "b*" }', '{ "a": "b$" }', '{ ".c": "d" }'];
/** Renames checked after the schema passes (so reported alone). */
const BAD_RENAME_MEANINGS = ['{ "app": "x.y" }', '{ "app.c": "x" }', '{ "a": "x", "b": "x" }', '{ "a": "__mongo_live_migrate" }', '{ "a.b": "__mongo_live_migrate.b" }'];
const BAD_DURATIONS = ['"5x"', '"1d"', '"h"', '"5 m"', '"-5m"', '"1.5h"', '"m30"', '"5h30"', '""', '"5M"', '"5H"', '"30m5h"', '"PT5H"', '"5h 30m"', '"0s"', '"0h0m0s"', '"0m"', '"1w"', '"∞"', '"5h30m10s20ms"'];
const BAD_REFERENCES = ['"${MLM_FUZZ_UNSET_VARIABLE}"', '"mongodb://${MLM_FUZZ_UNSET_HOST}:27017/"', '"${BAD-NAME}"', '"${}"', '"${1ABC}"', '"${SOURCE_URI"', '"${ SOURCE_URI }"', '"${SOURCE_URI}${MLM_FUZZ_ALSO_UNSET}"', '"${lower.case}"'];
const UNKNOWN_KEYS = ['batchsize', 'maxLag', 'uri2', 'includes', 'dropDestinaton', 'user', 'password', 'replicaSet', 'tls', 'Version', 'NAME', '"sync "', 'parallel_collections', 'max-duration', 'exlude', '__proto__', 'constructor', 'toString', '$where', 'a.b', '"quoted key"', '"ünïcödé"', '"🙂"'];

function wrongType(model: Entry[], r: Rand, table: [string, string[]][]): Mutation {
  for (;;) {
    const [path, values] = r.pick(table);
    const target = leaf(model, path) ?? (path.includes('.') ? addLeaf(model, path) : undefined);
    if (!target || target.raw !== undefined) continue;
    target.value = r.pick(values);
    target.mark = true;
    return { touches: [path.split('.')[0]!], exact: true };
  }
}

function addLeaf(model: Entry[], path: string): Entry {
  const [top, child] = path.split('.') as [string, string];
  const parent = ensureSection(model, top);
  const entry: Entry = { key: child, value: 'null' };
  parent.push(entry);
  return entry;
}

function unknownKey(model: Entry[], r: Rand): Mutation {
  const where = r.pick(['<top>', 'source', 'destination', 'namespaces', 'sync', 'tail', 'cutover', 'report']);
  const entry: Entry = { key: r.pick(UNKNOWN_KEYS), value: r.pick(['1', '"x"', 'true', '[a]', '{ a: 1 }', 'null']), mark: true };
  const list = where === '<top>' ? model : ensureSection(model, where);
  list.splice(r.int(0, list.length), 0, entry);
  return { touches: [where], exact: true };
}

function badGlob(model: Entry[], r: Rand, combined: boolean): Mutation {
  const ns = ensureSection(model, 'namespaces');
  if (r.chance(0.35)) {
    const rename = ns.find((e) => e.key === 'rename') ?? (ns.push({ key: 'rename', value: '' }), ns[ns.length - 1]!);
    const semantic = !combined && r.chance(0.5);
    rename.value = r.pick(semantic ? BAD_RENAME_MEANINGS : BAD_RENAMES);
    rename.mark = true;
    return { touches: ['namespaces'], exact: true, alone: semantic };
  } else {
    const key = r.pick(['include', 'exclude']);
    const list = ns.find((e) => e.key === key) ?? (ns.push({ key, value: '' }), ns[ns.length - 1]!);
    const items = r.shuffle(['"app.*"', r.pick(BAD_GLOBS), ...(r.chance(0.5) ? ['"db?.c*"'] : [])]);
    list.value = `[${items.join(', ')}]`;
    list.mark = true;
  }
  return { touches: ['namespaces'], exact: true };
}

function badDuration(model: Entry[], r: Rand): Mutation {
  const tail = ensureSection(model, 'tail');
  const entry = tail.find((e) => e.key === 'maxDuration') ?? (tail.push({ key: 'maxDuration', value: '' }), tail[tail.length - 1]!);
  entry.value = r.pick(BAD_DURATIONS);
  entry.mark = true;
  return { touches: ['tail'], exact: true };
}

function missingEnv(model: Entry[], r: Rand): Mutation {
  const path = r.pick(['source.uri', 'destination.uri', 'name', 'namespaces.include', 'tail.maxDuration', 'cutover.writeBlock']);
  const target = leaf(model, path) ?? addLeaf(model, path);
  const reference = r.pick(BAD_REFERENCES);
  target.value = path === 'namespaces.include' ? `["app.*", ${reference}]` : reference;
  target.mark = true;
  return { touches: [path.split('.')[0]!], exact: true };
}

function literalPassword(model: Entry[], r: Rand): Mutation {
  const side = r.pick(['source', 'destination']);
  ensureSection(model, side);
  const target = leaf(model, `${side}.uri`);
  if (!target) throw new Blocked();
  const password = r.pick([CANARY, encodeURIComponent(CANARY), `${CANARY}:with:colons`, `pre${CANARY}post`]);
  target.value = `"${r.pick(['mongodb', 'mongodb+srv'])}://migrator:${password}@db1.invalid/?authSource=admin"`;
  target.mark = true;
  return { touches: [side], exact: true };
}

function duplicateKey(model: Entry[], r: Rand): Mutation {
  const top = r.chance(0.4);
  const side = top ? undefined : section(model, r.pick(['source', 'destination']));
  const entries: Entry[] = side && typeof side.value !== 'string' && side.raw === undefined ? side.value : model;
  const original: Entry = r.pick(entries.filter((e) => e.raw === undefined));
  // yaml reports the second occurrence of the key.
  const copy: Entry = { key: original.key, value: typeof original.value === 'string' ? r.pick([original.value, '1', '"other"']) : original.value, mark: true };
  entries.splice(entries.indexOf(original) + 1 + r.int(0, entries.length - entries.indexOf(original) - 1), 0, copy);
  return { touches: [top ? '<top>' : 'side'], exact: true };
}

function yamlSyntax(model: Entry[], r: Rand, indentWidth: number): Mutation {
  const leaves: Entry[] = [];
  for (const e of model) {
    if (typeof e.value === 'string') leaves.push(e);
    else leaves.push(...e.value.filter((c) => typeof c.value === 'string'));
  }
  const target = r.pick(leaves);
  const isTop = model.includes(target);
  const pad = isTop ? '' : ' '.repeat(indentWidth);
  const breakers: (() => string)[] = [
    () => `${pad}${target.key}: "unclosed ${r.word()}`,
    () => `${pad}${target.key}: 'unclosed`,
    () => `${pad}${target.key}: [a, b`,
    () => `${pad}${target.key}: { a: 1`,
    () => `${pad}${target.key}: a: b`,
    () => `\t${pad}${target.key}: ${String(target.value)}`,
    () => `${pad}${target.key}: @reserved`,
    () => `${pad}${target.key}: \`backtick`,
    () => `${pad}${target.key}: *undefinedAlias${r.int(0, 99)}`,
    () => `${pad}${target.key}: !!binary notbase64!!`,
    () => `${pad}${target.key}: !unknownTag x`,
    () => `${pad}${target.key}: "bad escape \\q"`,
    () => `${pad}- ${target.key}`,
    () => `${pad}${target.key}: ]`,
    () => `${pad}${target.key}: }`,
    () => `${pad}: ${String(target.value)}`,
    () => `${pad}? [complex, key]`,
    () => `${pad}${target.key}: |\n${pad}bad block`,
    () => `${pad}${target.key}: "${'x'.repeat(r.int(1, 40))}" trailing`,
    () => `${pad}${target.key}: &a [*a]`,
  ];
  target.raw = r.pick(breakers)();
  target.mark = true;
  return { touches: ['*'], exact: false };
}

function missingKey(model: Entry[], r: Rand): Mutation {
  const what = r.pick(['version', 'name', 'source', 'destination', 'source.uri', 'destination.uri']);
  if (what.includes('.')) {
    const [top, child] = what.split('.') as [string, string];
    const s = section(model, top)!;
    s.value = (s.value as Entry[]).filter((e) => e.key !== child);
    if (!(s.value as Entry[]).length) s.value = '{}';
  } else {
    model.splice(model.findIndex((e) => e.key === what), 1);
  }
  return { touches: ['*'], exact: false };
}

interface Case {
  kind: Kind;
  kinds: Kind[];
  text: string;
  marked: number[];
  exact: boolean;
  lines: number;
}

function generate(r: Rand, kind: Kind): Case {
  const indentWidth = r.pick([2, 2, 2, 3, 4]);
  if (kind === 'not-a-mapping') {
    const text = r.pick(['', '\n\n', '# only a comment\n', '---\n', '- version: 1\n- name: x\n', 'just a sentence\n', '42\n', 'null\n', '~\n', '[]\n', '"version: 1"\n', '...\n']);
    return { kind, kinds: [kind], text, marked: [], exact: false, lines: text.split('\n').length };
  }
  const model = validModel(r);
  const kinds: Kind[] = [kind];
  let exact = true;
  let alone = false;
  const touched = new Set<string>();
  const apply = (k: Kind, combined = false): void => {
    let m: Mutation;
    switch (k) {
      case 'wrong-type': m = wrongType(model, r, WRONG_TYPES); break;
      case 'out-of-range': m = wrongType(model, r, OUT_OF_RANGE); break;
      case 'unknown-key': m = unknownKey(model, r); break;
      case 'bad-glob': m = badGlob(model, r, combined); break;
      case 'bad-duration': m = badDuration(model, r); break;
      case 'missing-env': m = missingEnv(model, r); break;
      case 'literal-password': m = literalPassword(model, r); break;
      case 'duplicate-key': m = duplicateKey(model, r); break;
      case 'yaml-syntax': m = yamlSyntax(model, r, indentWidth); break;
      case 'missing-key': m = missingKey(model, r); break;
      default: throw new Error(`no generator for ${k}`);
    }
    m.touches.forEach((t) => touched.add(t));
    exact &&= m.exact;
    alone ||= Boolean(m.alone);
  };
  if (kind !== 'huge-file') apply(kind);
  // A fifth of the schema-level cases break two or three things at once: every one must be reported.
  if (COMBINABLE.includes(kind) && !alone && r.chance(0.2)) {
    for (let extra = r.int(1, 2); extra > 0; extra--) {
      const more = r.pick(COMBINABLE);
      const snapshot = JSON.stringify(model);
      const before = new Set(touched);
      try {
        apply(more, true);
      } catch (error) {
        if (!(error instanceof Blocked)) throw error;
        touched.add('*'); // undone below
      }
      const now = [...touched].filter((t) => !before.has(t));
      // Two breakages in one section can hide each other (a section replaced by a scalar): undo those.
      if (!now.length || now.includes('*')) {
        model.splice(0, model.length, ...(JSON.parse(snapshot) as Entry[]));
        touched.clear();
        before.forEach((t) => touched.add(t));
      } else {
        kinds.push(more);
      }
    }
  }
  let { text, marked, lines } = render(model, r, indentWidth);
  if (kind === 'huge-file') {
    const size = MAX_CONFIG_BYTES + r.int(1, 200_000);
    const filler = r.pick([
      () => `# ${'padding '.repeat(Math.ceil(size / 8))}\n`,
      () => `namespaces_note: "${'y'.repeat(size)}"\n`,
      // Under the size limit but 30,000 keys: answered in about a second (yaml's own duplicate check took 25 s).
      () => Array.from({ length: 30_000 }, (_, i) => `k${i}: ${i}\n`).join(''),
    ])();
    text += filler;
    marked = [];
    exact = false;
    lines = text.split('\n').length;
  }
  return { kind, kinds, text, marked, exact, lines };
}

const KINDS: Kind[] = ['wrong-type', 'unknown-key', 'bad-glob', 'bad-duration', 'missing-env', 'duplicate-key', 'yaml-syntax', 'huge-file', 'literal-password', 'missing-key', 'not-a-mapping', 'out-of-range'];

describe('configuration fuzz: broken migration.yaml files through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlm fuzz ')); // a space in the path: locations must survive it
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    clearSecrets();
  });

  it(`${CASES} generated broken configs: exit 2, a located error, no stack trace, no canary`, async () => {
    console.log(`[config-fuzz] seed=${SEED} cases=${CASES} (rerun with MLM_SEED=${SEED})`);
    const r = new Rand(seededRandom(SEED));
    const perKind = new Map<Kind, number>();
    const spent = new Map<Kind, number>();
    const failures: string[] = [];
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      // Every kind in turn, so each gets about the same share; huge files are costly, so fewer of them.
      let kind = KINDS[i % KINDS.length]!;
      if (kind === 'huge-file' && i % (KINDS.length * 5) !== KINDS.indexOf('huge-file')) kind = 'yaml-syntax';
      const c = generate(r, kind);
      for (const k of c.kinds) perKind.set(k, (perKind.get(k) ?? 0) + 1);
      const file = join(dir, `case-${i}.${r.pick(['yaml', 'yml'])}`);
      writeFileSync(file, c.text);
      const t0 = performance.now();
      const result = await runCli(['validate', '--config', file, ...(r.chance(0.3) ? ['--json'] : []), ...(r.chance(0.3) ? ['--log-level', r.pick(['trace', 'debug'])] : [])], ENV);
      spent.set(kind, (spent.get(kind) ?? 0) + performance.now() - t0);
      const output = result.stdout + result.stderr;
      const located = [...result.stderr.matchAll(/^(.+):(\d+):(\d+): (.+)$/gm)].filter((m) => m[1] === file);
      const problems: string[] = [];
      if (result.code !== 2) problems.push(`exit ${result.code}`);
      if (!located.length) problems.push('no file:line:col line');
      for (const m of located) {
        const line = Number(m[2]);
        if (line < 1 || line > c.lines + 1 || Number(m[3]) < 1) problems.push(`position ${m[2]}:${m[3]} outside the file (${c.lines} lines)`);
      }
      if (c.exact) {
        const lines = new Set(located.map((m) => Number(m[2])));
        for (const want of c.marked) if (!lines.has(want)) problems.push(`line ${want} (${c.kinds.join('+')}) not reported`);
      }
      if (STACK.test(output)) problems.push('stack trace');
      if (output.includes(CANARY) || output.includes(encodeURIComponent(CANARY))) problems.push('canary printed');
      if (problems.length) {
        failures.push(`case ${i} [${c.kinds.join('+')}] ${problems.join('; ')}\n--- file (first 600 chars):\n${c.text.slice(0, 600)}\n--- stderr:\n${result.stderr.slice(0, 600)}`);
      } else {
        rmSync(file);
      }
    }
    console.log(`[config-fuzz] ${CASES} cases in ${Date.now() - started} ms: ${[...perKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    console.log(`[config-fuzz] CLI time by kind (ms): ${[...spent].map(([k, ms]) => `${k} ${Math.round(ms)}`).join(', ')}`);
    console.log(`[config-fuzz] figure: ${CASES} generated broken configs, ${CASES - failures.length} rejected with exit 2 and a located error`);
    if (failures.length) console.log(failures.map((f) => f.split('\n')[0]).join('\n'));
    expect(failures.slice(0, 5).join('\n\n')).toBe('');
    expect(failures).toHaveLength(0);
    // Every kind the issue lists was generated, and not just once.
    for (const kind of KINDS) expect(perKind.get(kind) ?? 0, kind).toBeGreaterThanOrEqual(kind === 'huge-file' ? 15 : 50);
  }, 60_000);
});
