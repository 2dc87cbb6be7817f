/**
 * How many write commands the applier keeps in flight on the destination, found from what the destination
 * answers rather than fixed. A fixed count is wrong somewhere: far from the destination, each command is mostly
 * round trip and more in flight hide it; on a destination short of CPU, more in flight only queue up, and cost
 * it CPU to arbitrate (measured here, 50k replacements: 8 in flight cost the destination 11.5-12.3 s of CPU,
 * 2 cost 9.8 s, in the same wall time; a burst of 65k operations applied in 20.6 s with 2 against 24.5 s with 8).
 *
 * The rule is a concurrency gradient (the idea of TCP Vegas and of Netflix's concurrency limits): the best time
 * per statement seen is what the destination does with no queue; the ratio of that to the time measured now
 * says how much of the limit is queueing. The next limit is the current one scaled by that ratio, plus a small
 * allowance, so it grows while commands do not slow down and falls back when they do. Times are per statement
 * kind (an insert costs a tenth of an update) and only from commands large enough to mean something; the
 * caller keeps the commands' size independent of the limit, or a smaller limit would look faster. The
 * time with no queue is measured, not assumed: now and then one window of commands runs one at a time (as BBR
 * probes its minimum round trip), since at a steady limit every command waits behind the others alike.
 */
export class WriterLimit {
  private limit: number;
  private readonly best = new Map<string, number>();
  private ratios: number[] = [];
  private windows = 0;
  /** The limit to return to after a probe window (one command at a time), or undefined outside one. */
  private probing: number | undefined;
  private measuring = false;
  /** Commands seen during the current probe. */
  private probed = 0;

  constructor(
    initial: number,
    private readonly bounds: { min: number; max: number } = { min: 1, max: 16 },
  ) {
    this.limit = initial;
    this.probing = initial;
  }

  /** Commands to keep in flight now. */
  current(): number {
    // Only once commands are large enough to be measured: a trickle of small batches keeps the limit it has.
    if (this.probing !== undefined && this.measuring) return this.bounds.min;
    return Math.max(this.bounds.min, Math.min(this.bounds.max, Math.round(this.limit)));
  }

  /** A write command of `statements` statements of one kind took `ms`. */
  record(kind: string, statements: number, ms: number): void {
    if (ms <= 0) return;
    const large = statements >= MIN_STATEMENTS;
    if (large) {
      this.measuring = true;
      const perStatement = ms / statements;
      // The best drifts up slowly, so that a destination that became slower for good is learnt, not held against.
      const best = Math.min((this.best.get(kind) ?? perStatement) * DRIFT, perStatement);
      this.best.set(kind, best);
      if (this.probing === undefined) this.ratios.push(best / perStatement);
    }
    if (this.probing !== undefined) {
      // A probe lasts WINDOW commands of any size once measuring: the large ones set the best; a trickle of small
      // batches after one large batch must not hold the limit at one (CI: a whole tail slice ran so).
      if (this.measuring && ++this.probed >= WINDOW) {
        this.limit = this.probing;
        this.probing = undefined;
        this.probed = 0;
        this.ratios = [];
      }
      return;
    }
    if (!large || this.ratios.length < WINDOW) return;
    this.windows++;
    // Within TOLERANCE of the best counts as no queueing (times vary, and the best is the luckiest of them); one
    // window never more than halves the limit.
    const gradient = Math.max(0.5, Math.min(1, TOLERANCE * median(this.ratios)));
    this.ratios = [];
    const next = this.limit * gradient + ALLOWANCE;
    // Smoothed: one noisy window moves the limit part of the way.
    this.limit = Math.max(this.bounds.min, Math.min(this.bounds.max, this.limit * (1 - SMOOTHING) + next * SMOOTHING));
    if (this.windows % PROBE_EVERY === 0) this.probing = this.limit;
  }
}

/** Commands smaller than this say more about fixed costs than about queueing. */
const MIN_STATEMENTS = 20;
/** Commands per adjustment. */
const WINDOW = 12;
/** In flight beyond what the gradient says is queueing-free: what lets the limit grow at all. */
const ALLOWANCE = 1;
const SMOOTHING = 0.5;
const TOLERANCE = 1.25;
const DRIFT = 1.002;
/** Windows between two probes. */
const PROBE_EVERY = 25;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
