import type { LagSample } from '../model.js';

/**
 * The lag chart of the PR comment and the job summary: a mermaid `xychart-beta` line, which GitHub renders
 * from a fenced ```mermaid block. Pure. Long histories are bucketed (max per bucket, so a spike is never
 * averaged away) to keep the chart readable and the comment small.
 */
export const MAX_CHART_POINTS = 48;

export interface LagChartOptions {
  /** At most this many points; older samples are merged into buckets. */
  maxPoints?: number;
  /** Draws the cutover threshold as a second, flat line. */
  thresholdSeconds?: number;
}

/** Returns the fenced mermaid block, or undefined when there are fewer than two samples to draw. */
export function renderLagChart(samples: LagSample[], options: LagChartOptions = {}): string | undefined {
  const points = bucket(
    samples.filter((s) => Number.isFinite(s.lagSeconds) && !Number.isNaN(Date.parse(s.at))),
    options.maxPoints ?? MAX_CHART_POINTS,
  );
  if (points.length < 2) return undefined;
  const labels = axisLabels(points.map((p) => p.at));
  const values = points.map((p) => round(Math.max(0, p.lagSeconds)));
  const top = niceCeiling(Math.max(...values, options.thresholdSeconds ?? 0, 1));
  const threshold = options.thresholdSeconds === undefined ? undefined : round(options.thresholdSeconds);
  // xychart-beta draws no legend: the title and a caption under the chart say which line is which.
  const title = threshold === undefined ? 'Replication lag (seconds)' : `Replication lag (seconds) and the cutover threshold (${threshold} s)`;
  const lines = ['```mermaid', 'xychart-beta', `    title "${title}"`, `    x-axis "time (UTC)" [${labels.map((l) => `"${l}"`).join(', ')}]`, `    y-axis "lag (s)" 0 --> ${top}`, `    line [${values.join(', ')}]`];
  if (threshold !== undefined) lines.push(`    line [${values.map(() => threshold).join(', ')}]`);
  lines.push('```');
  const span = `${labels[0] ?? ''} to ${labels[labels.length - 1] ?? ''} UTC`;
  lines.push(threshold === undefined ? `Lag per sample, ${span}.` : `Lag per sample, ${span}; the flat line is the cutover threshold (cutover.maxLagSeconds: ${threshold} s).`);
  return lines.join('\n');
}

/** Keeps at most `max` points: consecutive samples share a bucket, which keeps its worst lag and last time. */
function bucket(samples: LagSample[], max: number): LagSample[] {
  const sorted = [...samples].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (sorted.length <= max) return sorted;
  const size = Math.ceil(sorted.length / max);
  const out: LagSample[] = [];
  for (let i = 0; i < sorted.length; i += size) {
    const group = sorted.slice(i, i + size);
    const last = group[group.length - 1] as LagSample;
    out.push({ at: last.at, lagSeconds: Math.max(...group.map((s) => s.lagSeconds)) });
  }
  return out;
}

/**
 * Short labels an axis can hold: HH:MM (UTC) within a day, MM-DD HH:MM beyond, HH:MM:SS when minutes alone
 * would repeat (a short slice sampled every few seconds).
 */
function axisLabels(times: string[]): string[] {
  const isos = times.map((t) => new Date(Date.parse(t)).toISOString());
  const first = Date.parse(times[0] ?? '');
  const last = Date.parse(times[times.length - 1] ?? '');
  if (last - first >= 24 * 3600 * 1000) return isos.map((iso) => `${iso.slice(5, 10)} ${iso.slice(11, 16)}`);
  const minutes = isos.map((iso) => iso.slice(11, 16));
  return new Set(minutes).size === minutes.length ? minutes : isos.map((iso) => iso.slice(11, 19));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** 1, 2, 5, 10, 20, 50 ...: an axis top that reads well. */
function niceCeiling(n: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}
