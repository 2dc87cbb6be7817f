/**
 * The benchmark entry: `npm run bench -- [--quick] [--docs N] [--size BYTES] [--collections N] ...`.
 * Every figure is measured in this run, beside its reference measured in this run on this machine.
 * See bench/README.md.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { percentile, type BenchOptions } from './common.js';
import { initialSyncScenario, type InitialSyncFigures } from './initial-sync.js';
import { burstScenario, type BurstFigures } from './burst.js';
import { tailScenario, type TailFigures } from './tail.js';
import { cutoverScenario, type CutoverFigures } from './cutover.js';
import { eventsScenario, type EventFigures } from './events.js';

const HELP = `usage: npm run bench -- [options]
  --quick               development scale: 50k documents, 20 s of load (defaults below are the full scale)
  --docs N              documents for the initial-sync scenario (1000000)
  --size BYTES          approximate document size (1024)
  --collections N       collections (4)
  --small-docs N        documents for the tail scenario and the second memory figure (docs / 4)
  --load-seconds S      seconds of write load in the tail scenario (60)
  --writers N           concurrent writer clients in the tail scenario, each writing with w: 1 (32)
  --repeat N            run the tail scenario N times (fresh sets each) and also pool their samples: the p99 of one
                        run's ~200 samples is about its second highest, so one run alone cannot tell codes apart (1)
  --scenarios LIST      initial,tail,burst (the default); cutover runs the cutover scenario, events the tail's own
                        CPU per change event without MongoDB (neither by default)
  --burst-docs N        documents the burst's updateMany touches (160000; quick 50000); it also inserts a fifth
                        and deletes a tenth as many
  --burst-size BYTES    document size in the burst scenario (256)
  --burst-shape SHAPE   mixed (the default: updateMany, insertMany, deleteMany) or inserts (a bulk load: insertMany
                        of as many documents as --burst-docs, nothing else)
  --cutover-docs LIST   the cutover scenario's sizes in documents (100000,1000000: ~100 MB and ~1 GB at 1 KB)
  --no-native / --no-naive   skip a reference run (development only: ratios need them)
  --sync-extra YAML     extra migration.yaml lines for our runner, e.g. "sync: { batchSize: 2000 }"
  --after-verification  start the burst's and the tail's load only once continuous verification has compared
                        every partition: a long migration's steady state, where every touched document costs a
                        recheck entry (by default the first comparison pass runs beside the load)
  --cpu-prof DIR        write a V8 CPU profile of our sync runner and of the tail (burst and sustained) into DIR
  --base-dir DIR        where the replica sets' data goes (/tmp/mlm-bench; removed afterwards)`;

function burstShape(value: string): BenchOptions['burstShape'] {
  if (value === 'mixed' || value === 'inserts') return value;
  process.stderr.write(`--burst-shape: mixed or inserts, not ${value}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    docs: { type: 'string' },
    size: { type: 'string', default: '1024' },
    collections: { type: 'string', default: '4' },
    'small-docs': { type: 'string' },
    'load-seconds': { type: 'string' },
    writers: { type: 'string', default: '32' },
    repeat: { type: 'string', default: '1' },
    scenarios: { type: 'string', default: 'initial,tail,burst' },
    'burst-docs': { type: 'string' },
    'burst-size': { type: 'string', default: '256' },
    'burst-shape': { type: 'string', default: 'mixed' },
    'after-verification': { type: 'boolean', default: false },
    'cutover-docs': { type: 'string', default: '100000,1000000' },
    'no-native': { type: 'boolean', default: false },
    'no-naive': { type: 'boolean', default: false },
    'sync-extra': { type: 'string', default: '' },
    'cpu-prof': { type: 'string' },
    'base-dir': { type: 'string', default: '/tmp/mlm-bench' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) {
  process.stderr.write(`--repeat: a whole number of runs, 1 or more, not ${values.repeat}\n`);
  process.exit(2);
}
const docs = Number(values.docs ?? (values.quick ? 50_000 : 1_000_000));
const options: BenchOptions = {
  docs,
  size: Number(values.size),
  collections: Number(values.collections),
  smallDocs: Number(values['small-docs'] ?? Math.max(1000, Math.floor(docs / 4))),
  loadSeconds: Number(values['load-seconds'] ?? (values.quick ? 20 : 60)),
  writers: Number(values.writers),
  baseDir: values['base-dir'],
  scenarios: new Set(values.scenarios.split(',').map((s) => s.trim())),
  extra: values['sync-extra'].replace(/\\n/g, '\n'),
  cpuProf: values['cpu-prof'],
  burstDocs: Number(values['burst-docs'] ?? (values.quick ? 50_000 : 160_000)),
  burstSize: Number(values['burst-size']),
  burstShape: burstShape(values['burst-shape']),
  afterVerification: values['after-verification'],
};

const fmtS = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');
const ratio = (ms: number, reference: number): string => (Number.isFinite(ms) && Number.isFinite(reference) ? `${(ms / reference).toFixed(2)}x` : 'n/a');
const mb = (kb: number | null): string => (kb ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');
const loadAt = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

const startLoad = loadAt();
const began = Date.now();
mkdirSync(options.baseDir, { recursive: true });
let initial: InitialSyncFigures | undefined;
let small: InitialSyncFigures | undefined;
type LagSamples = keyof TailFigures['lags'];
/** Our lag beside the secondary's: the pair the bench printed first (our durable point against its applied one), then the two pairs measured alike. */
const LAG_PAIRS: [string, LagSamples, LagSamples][] = [
  ['our durable point ÷ its applied point', 'ours', 'native'],
  ['durable ÷ durable', 'ours', 'nativeDurable'],
  ['what a reader sees ÷ what a reader sees', 'visibleOurs', 'visibleNative'],
];

const tails: TailFigures[] = [];
let burst: BurstFigures | undefined;
const cutovers: CutoverFigures[] = [];
let events: EventFigures | undefined;
try {
  if (options.scenarios.has('events')) events = eventsScenario({ events: values.quick ? 65_000 : 208_000, rounds: 12 });
  if (options.scenarios.has('cutover')) for (const n of values['cutover-docs'].split(',').map(Number)) cutovers.push(await cutoverScenario(options, n));
  if (options.scenarios.has('initial')) initial = await initialSyncScenario(options, options.docs, { native: !values['no-native'], naive: !values['no-naive'] });
  if (options.scenarios.has('burst')) burst = await burstScenario(options);
  if (options.scenarios.has('tail')) for (let run = 0; run < repeat; run++) tails.push(await tailScenario(options));
  else if (options.scenarios.has('initial')) small = await initialSyncScenario({ ...options, cpuProf: undefined }, options.smallDocs, { native: false, naive: false });
} finally {
  rmSync(options.baseDir, { recursive: true, force: true });
}
// The table shows the last run of --repeat; pooledTail adds the others.
const tail = tails.at(-1);

const lines: string[] = [];
lines.push(`mongo-live-migrate benchmark — ${new Date().toISOString()}; ${cpus().length} cores; load average at start ${startLoad}, at end ${loadAt()}; ${fmtS(Date.now() - began)} in all`);
lines.push(`command: npm run bench -- ${process.argv.slice(2).join(' ')}`);
if (initial) {
  lines.push('');
  lines.push(`Initial sync: ${initial.docs} documents of ~${options.size} B in ${options.collections} collections (${initial.dataMB.toFixed(0)} MB data, ${initial.indexMB.toFixed(0)} MB indexes, 3 secondary indexes each)`);
  lines.push('| run | time | vs native | CPU (all its processes) | CPU vs native |');
  lines.push('|---|---|---|---|---|');
  const cpu = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(1)} s` : 'n/a');
  lines.push(`| native initial sync (new member → SECONDARY) | ${fmtS(initial.nativeMs)} | 1.00x | ${cpu(initial.nativeCpuS)} | 1.00x |`);
  lines.push(`| our sync (copy + indexes + catch-up, own process) | ${fmtS(initial.ours.ms)} | ${ratio(initial.ours.ms, initial.nativeMs)} (target ≤ 1.2x) | ${cpu(initial.oursCpuS)} (runner ${cpu(initial.ours.cpuS)}) | ${ratio(initial.oursCpuS, initial.nativeCpuS)} |`);
  lines.push(`| naive single-threaded find → insertMany | ${fmtS(initial.naiveMs)} | ${ratio(initial.naiveMs, initial.nativeMs)} | ${cpu(initial.naiveCpuS)} | ${ratio(initial.naiveCpuS, initial.nativeCpuS)} |`);
  lines.push(`our copy exact (dbHash equal): ${initial.exact ? 'yes' : 'NO'}`);
}
if (tail) {
  const l = tail;
  lines.push('');
  lines.push(`Tail: ${l.writers} writers of mixed operations (insert 30%, update 40%, replace 10%, delete 20%) for ${l.loadSeconds.toFixed(0)} s at ${l.opsPerSecond.toFixed(0)} ops/s on a two-member source (${l.docs} documents)${options.afterVerification ? ', after continuous verification had compared every partition' : ''}`);
  lines.push('| applier | lag p50 | lag p99 | lag max | catch-up after load | catch-up / load |');
  lines.push('|---|---|---|---|---|---|');
  const row = (who: string, f: { p50: number; p99: number; max: number }, catchUp = ''): string => `| ${who} | ${f.p50.toFixed(2)} s | ${f.p99.toFixed(2)} s | ${f.max.toFixed(2)} s | ${catchUp}`;
  const catchUp = (ms: number, target = ''): string => `${fmtS(ms)} | ${((ms / 1000 / l.loadSeconds) * 100).toFixed(1)}%${target} |`;
  lines.push(row('native secondary: applied (its last applied, in the primary\'s status)', l.native, catchUp(l.native.catchUpMs)));
  lines.push(row('native secondary: durable (its last journaled, in the primary\'s status)', l.durable.native, '| |'));
  lines.push(row('native secondary: what a reader sees (the heartbeat read on it)', l.visible.native, '| |'));
  lines.push(row('our tail: durable (the saved position)', l.ours, catchUp(l.ours.catchUpMs, ' (target ≤ 10%, p99 ≤ 2 s)')));
  lines.push(row('our tail: what a reader sees (the heartbeat read on the destination primary)', l.visible.ours, '| |'));
  lines.push(row('source majority commit point (the floor of any change stream)', l.majority, '| |'));
  lines.push(`our lag p99 ÷ the secondary's (target ≤ 3x): ${lagRatios(l)}; ${l.samples} samples, asked for every 100 ms; ours at the instant our position was read, against the primary's oplog`);
  lines.push(`ours as sampled before 2026-12-02 (against the primary's status read beside our position, which a loaded primary answers later): p50 ${l.fromStatus.p50.toFixed(2)} / p99 ${l.fromStatus.p99.toFixed(2)} s (${(l.fromStatus.p99 / l.native.p99).toFixed(2)}x)`);
  lines.push(`destination exact after the load (dbHash equal): ${l.exact ? 'yes' : 'NO'}`);
  if (tails.length > 1) lines.push(...pooledTail(tails));
}
if (burst) {
  const b = burst;
  const rate = (ms: number): string => `${((b.ops / ms) * 1000).toFixed(0)} ops/s`;
  lines.push('');
  lines.push(`Burst: a ${options.burstShape === 'mixed' ? 'batch job' : 'bulk load'} of ${b.ops} operations (${options.burstShape === 'mixed' ? 'updateMany, insertMany, deleteMany' : 'insertMany'}; w: 1) written in ${fmtS(b.burstMs)} on a two-member source; our tail starts after it${options.afterVerification ? ', and after continuous verification had compared every partition' : ''}`);
  lines.push('| applier | applied the burst in | rate | vs secondary | source primary CPU to feed it |');
  lines.push('|---|---|---|---|---|');
  lines.push(`| native secondary, as it came | ${fmtS(b.nativeMs)} | ${rate(b.nativeMs)} | 1.00x | |`);
  lines.push(`| native secondary, restarted after the burst | ${fmtS(b.nativeCatchUpMs)} | ${rate(b.nativeCatchUpMs)} | ${(b.nativeMs / b.nativeCatchUpMs).toFixed(2)}x | ${b.sourceCpuNativeS.toFixed(1)} s |`);
  lines.push(`| our tail, started after the burst | ${fmtS(b.oursMs)} | ${rate(b.oursMs)} | ${(b.nativeMs / b.oursMs).toFixed(2)}x (target ≥ 1.0x) | ${b.sourceCpuOursS.toFixed(1)} s |`);
  lines.push(`destination exact after the burst (dbHash equal): ${b.exact ? 'yes' : 'NO'}; our tail's peak RSS ${mb(Math.max(b.tail.vmHwmKB ?? 0, b.tail.sampledPeakKB))}, CPU ${b.tail.cpuS.toFixed(1)} s; the destination primary's CPU meanwhile ${b.destinationCpuOursS.toFixed(1)} s, against ${b.secondaryCpuS.toFixed(1)} s of the secondary's applying it as it came`);
}
if (cutovers.length) {
  lines.push('');
  lines.push(`Cutover under a live writer (${options.writers} writers of mixed operations), 1 unique, 2 plain and 1 TTL index per collection, cutover.verify: hash`);
  lines.push('| documents | data | write downtime | steps (ms) | verification during tail | tail lag p99 comparing / covered | exact |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const c of cutovers) {
    const steps = Object.entries(c.timings).filter(([k]) => k !== 'lag-hold' && k !== 'finalize-indexes').map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${c.docs} | ${c.dataMB.toFixed(0)} MB | ${c.downtimeS.toFixed(2)} s | ${steps} | ${c.verifyDocsPerSecond.toFixed(0)} docs/s (${c.verifySeconds.toFixed(0)} s) | ${c.lagP99Comparing.toFixed(2)} s / ${c.lagP99Covered.toFixed(2)} s | ${c.exact ? 'yes' : 'NO'} |`);
  }
  if (cutovers.length >= 2) {
    const small = cutovers[0]!;
    const large = cutovers[cutovers.length - 1]!;
    lines.push(`downtime ratio large/small: ${(large.downtimeS / small.downtimeS).toFixed(2)} at ${(large.dataMB / small.dataMB).toFixed(1)}x the data (target ≤ 1.3; ≤ 2 s at 1 GB)`);
  }
}
const memory: [number, number | null][] = [];
if (initial) memory.push([initial.docs, Math.max(initial.ours.vmHwmKB ?? 0, initial.ours.sampledPeakKB)]);
if (tail) {
  // The highest of every run (--repeat): the bound holds for each.
  memory.push([tail.docs, Math.max(...tails.map((t) => Math.max(t.sync.vmHwmKB ?? 0, t.sync.sampledPeakKB)))]);
  memory.push([tail.docs, Math.max(...tails.map((t) => Math.max(t.tail.vmHwmKB ?? 0, t.tail.sampledPeakKB)))]);
}
if (small) memory.push([small.docs, Math.max(small.ours.vmHwmKB ?? 0, small.ours.sampledPeakKB)]);
if (memory.length) {
  lines.push('');
  lines.push('Peak RSS of our runner process (VmHWM; target ≤ 256 MB at any size)');
  lines.push('| run | documents | peak RSS |');
  lines.push('|---|---|---|');
  if (initial) lines.push(`| sync | ${initial.docs} | ${mb(memory[0]![1])} |`);
  if (tail) {
    lines.push(`| sync | ${tail.docs} | ${mb(memory[initial ? 1 : 0]![1])} |`);
    lines.push(`| tail under load | ${tail.docs} | ${mb(memory[initial ? 2 : 1]![1])} |`);
  }
  if (small) lines.push(`| sync | ${small.docs} | ${mb(small.ours.vmHwmKB ?? small.ours.sampledPeakKB)} |`);
}
if (events) {
  const e = events;
  const us = (f: { best: number; median: number }): string => `${f.best.toFixed(2)} / ${f.median.toFixed(2)} µs`;
  lines.push('');
  lines.push(`Events: the tail's own work per change event before its writes, no MongoDB (${e.events} raw events of a batch job, ${e.rounds} rounds alternated in this process)`);
  lines.push('| path | per event, best / median round | vs reference (median) |');
  lines.push('|---|---|---|');
  lines.push(`| reference: each event decoded whole by the BSON library | ${us(e.reference)} | 1.00x |`);
  lines.push(`| our decoder: the routing fields read from the bytes (the same work, done for what the tail reads) | ${us(e.decode)} | ${(e.decode.median / e.reference.median).toFixed(2)}x |`);
  lines.push(`| all the tail does to an event before its writes: decoded, in scope, its target, its document key, an update's delta translated | ${us(e.ours)} | ${(e.ours.median / e.reference.median).toFixed(2)}x |`);
}
console.log(lines.join('\n'));

/**
 * The runs of `--repeat`, each as a line, and their samples pooled: a p99 of several hundred samples per side, which
 * one run's (about its second highest sample) is not. The table above shows the last run.
 */
function pooledTail(runs: TailFigures[]): string[] {
  const out = [`${runs.length} runs (our p99 ÷ the secondary's, ops/s, exact):`];
  runs.forEach((r, i) => out.push(`- run ${i + 1}: ${lagRatios(r)}; ${r.opsPerSecond.toFixed(0)} ops/s, ${r.exact ? 'exact' : 'NOT EXACT'}`));
  out.push('pooled (target ≤ 3x):');
  for (const [pair, ours, native] of LAG_PAIRS) {
    const [o, n] = [runs.flatMap((r) => r.lags[ours]), runs.flatMap((r) => r.lags[native])];
    const ratios = runs.map((r) => percentile(r.lags[ours], 99) / percentile(r.lags[native], 99));
    out.push(`- ${pair}: ours p50 ${percentile(o, 50).toFixed(2)} / p99 ${percentile(o, 99).toFixed(2)} s (${o.length} samples), the secondary's p50 ${percentile(n, 50).toFixed(2)} / p99 ${percentile(n, 99).toFixed(2)} s (${n.length}): **${(percentile(o, 99) / percentile(n, 99)).toFixed(2)}x**; the runs' median ${median(ratios).toFixed(2)}x`);
  }
  return out;
}

function lagRatios(run: TailFigures): string {
  return LAG_PAIRS.map(([pair, ours, native]) => {
    const [o, n] = [percentile(run.lags[ours], 99), percentile(run.lags[native], 99)];
    return `${pair} ${(o / n).toFixed(2)}x (${o.toFixed(2)} s against ${n.toFixed(2)} s)`;
  }).join(', ');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
