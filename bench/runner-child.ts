/**
 * The migration runner as its own process, so the benchmark can measure its wall time and peak memory apart
 * from the benchmark's own work: `sync` runs the sync command to the tailing phase, `tail` applies live
 * changes until SIGTERM, `cutover` runs the cutover (confirmed by name). Prints one JSON line: { ms, vmHwmKB, cpuS,
 * loopDelayMs, summary }.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runSync } from '../src/commands/sync.js';
import { runTail } from '../src/commands/tail.js';
import { runCutover } from '../src/commands/cutover.js';
import { parseConfig } from '../src/config/index.js';
import { createLogger, silentLogger, type LogLevel } from '../src/log.js';

export interface ChildRequest {
  mode: 'sync' | 'tail' | 'cutover';
  name: string;
  source: string;
  destination: string;
  /** Extra YAML lines (sync/tail options). */
  extra: string;
}

const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
const yaml = `version: 1\nname: ${request.name}\nsource: { uri: "\${SRC}" }\ndestination: { uri: "\${DST}" }\nnamespaces:\n  include: ["bench.*"]\n${request.extra}`;
const config = parseConfig(yaml, 'bench.yaml', { env: { SRC: request.source, DST: request.destination } });
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
const level = process.env.MLM_BENCH_LOG as LogLevel | undefined;
const ports = { log: level ? createLogger({ level }) : silentLogger, signal: controller.signal, runner: `bench-${process.pid}` };
if (process.env.MLM_BENCH_MEM) {
  // Development aid: where the runner's memory goes (heap, external, array buffers) once a second.
  setInterval(() => {
    const m = process.memoryUsage();
    process.stderr.write(`mem rss ${m.rss >> 20} heapTotal ${m.heapTotal >> 20} heapUsed ${m.heapUsed >> 20} external ${m.external >> 20} arrayBuffers ${m.arrayBuffers >> 20}\n`);
  }, 1000).unref();
}
// How late callbacks ran: the runner's own synchronous work (continuous verification beside the tail) and its
// waits for a core both show here; with and without verification alike says it is the cores (bench/README.md).
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const started = Date.now();
const outcome =
  request.mode === 'sync'
    ? await runSync(config, {}, ports)
    : request.mode === 'cutover'
      ? await runCutover(config, { confirm: config.name, maxDurationMs: 900_000 }, ports)
      : await runTail(config, { maxDurationMs: 3_600_000 }, ports);
const ms = Date.now() - started;
const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ ms, vmHwmKB: hwm ? Number(hwm[1]) : null, cpuS: (cpu.user + cpu.system) / 1e6, loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 }, summary: outcome.summary }) + '\n');
