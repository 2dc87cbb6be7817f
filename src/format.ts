/**
 * The one formatting of numbers for every human-facing text (terminal, PR comment, job summary, check
 * messages): counts with thousands separators, bytes in IEC units (KiB, MiB: what MongoDB's sizes are
 * measured in), durations (measured ones in seconds; configured time boxes in milliseconds, in the
 * configuration's own notation), and plurals. Pure and locale-free (no toLocaleString), so output is the same on
 * every machine. JSON output keeps raw numbers.
 */

/** 1234567 → "1,234,567"; fractions keep one decimal. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const [int = '0', frac] = String(Number.isInteger(abs) ? abs : Math.round(abs * 10) / 10).split('.');
  return `${n < 0 ? '-' : ''}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ? `.${frac}` : ''}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB"; 52428800 → "50 MiB". Unknown or negative sizes print "?". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${formatCount(Math.round(value))} B`;
  // Rounding can reach the next unit (1023.96 KiB → "1024 KiB"): keep the digits honest but short.
  return `${value < 10 ? value.toFixed(1) : formatCount(Math.round(value))} ${BYTE_UNITS[unit]}`;
}

/**
 * 42.5 → "42.5s"; 3725 → "1h 2m"; 200000 → "2d 7h". For lags, ETAs, windows, downtime. With `unknown`, a null
 * or infinite duration prints that text ("unknown", "∞") instead of the number.
 */
export function formatDuration(seconds: number): string;
export function formatDuration(seconds: number | null, unknown: string): string;
export function formatDuration(seconds: number | null, unknown?: string): string {
  if (seconds === null || !Number.isFinite(seconds)) return unknown ?? String(seconds);
  if (seconds < 60) return `${Math.round(seconds * 10) / 10}s`;
  const total = Math.round(seconds);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  if (d) return `${formatCount(d)}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${total % 60}s`;
}

/**
 * Milliseconds in the notation migration.yaml and --max-duration are written in (what parseDuration reads):
 * 19800000 → "5h30m"; 0 → "0s". For echoing a configured time box; measured durations use formatDuration.
 */
export function formatConfigDuration(ms: number): string {
  let seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  seconds -= h * 3600;
  const m = Math.floor(seconds / 60);
  seconds -= m * 60;
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', seconds || (!h && !m) ? `${seconds}s` : ''];
  return parts.join('');
}

/** "1 warning", "4 collections", "1,200 documents", "2 indexes" (give the plural when it is not word + s). */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${formatCount(count)} ${count === 1 ? word : many}`;
}

/** Whole percent, floored so that 100% means done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}
