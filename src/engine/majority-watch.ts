import type { MongoClient } from 'mongodb';
import type { Side } from '../mongo/connect.js';
import { MAJORITY_WARN_BEHIND_S, majorityWarning, readMajorityBehind } from '../mongo/majority-point.js';
import type { Logger } from '../log.js';

/** How often each side's majority commit point is looked at, and how often a trailing one is reported again. */
const PROBE_EVERY_MS = 15_000;
const REPORT_EVERY_MS = 60_000;

export interface WatchedSide {
  side: Side;
  client: MongoClient;
}

/**
 * Says in the log when a side's majority commit point stops following its writes while a command runs. The engine
 * then waits without an error (see mongo/majority-point.ts): a copy whose progress stops, a tail whose commands
 * stall and reconnect, with nothing naming the cause. validate checks the same once, before; this covers a
 * secondary that goes down during a migration of days. A probe that fails says nothing: a side that does not
 * answer is the reconnect's to report.
 */
export class MajorityWatch {
  private readonly timer: NodeJS.Timeout;
  private readonly reportedAt = new Map<Side, number>();
  /** The furthest behind each side's point was seen, of the probes that reported it. */
  private readonly worst = new Map<Side, number>();
  private probing = false;

  constructor(private readonly sides: readonly WatchedSide[], private readonly log: Logger, everyMs = PROBE_EVERY_MS) {
    this.timer = setInterval(() => void this.probe(), everyMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** For the run's report (the summary, the PR comment, --json): each side whose point trailed while it ran. */
  warnings(): string[] {
    return [...this.worst].map(([side, behind]) => majorityWarning(side, behind, 'run'));
  }

  /** Looks at every side once (also what the timer runs). */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await Promise.all(this.sides.map((side) => this.probeSide(side)));
    } finally {
      this.probing = false;
    }
  }

  private async probeSide({ side, client }: WatchedSide): Promise<void> {
    const behind = await readMajorityBehind(client, side);
    if (behind === undefined) return;
    const reported = this.reportedAt.get(side);
    if (behind < MAJORITY_WARN_BEHIND_S) {
      if (reported !== undefined) this.log.info({ side, behindSeconds: behind }, `the majority commit point of the ${side} follows its writes again`);
      this.reportedAt.delete(side);
      return;
    }
    this.worst.set(side, Math.max(behind, this.worst.get(side) ?? 0));
    if (reported !== undefined && Date.now() - reported < REPORT_EVERY_MS) return;
    this.reportedAt.set(side, Date.now());
    this.log.warn({ side, behindSeconds: behind }, majorityWarning(side, behind));
  }
}
