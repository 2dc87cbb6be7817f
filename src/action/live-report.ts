import type { CommandOutcome, Progress } from '../model.js';

/**
 * Keeps the PR comment and the job summary fresh while a long step runs: a "running since" report when it
 * starts, another whenever the phase or step changes (so a cutover shows its steps as they pass), and one at
 * least every `intervalMs` in between (a slice lasts hours). Publishing never overlaps: a report asked for
 * while one is being written waits, and only the newest waiting one is written. `settle` ends it before the
 * final report, so a late live update can never overwrite the outcome.
 */
export class LiveReport {
  private lastAt = 0;
  private lastStage = '';
  private inFlight: Promise<void> = Promise.resolve();
  private waiting: CommandOutcome | undefined;
  private closed = false;

  constructor(
    private readonly command: string,
    private readonly since: Date,
    private readonly intervalMs: number,
    private readonly publish: (outcome: CommandOutcome) => Promise<void>,
  ) {}

  start(): void {
    this.push(this.outcome(undefined));
  }

  progress(p: Progress): void {
    const stage = `${p.phase}/${p.step ?? ''}`;
    const now = Date.now();
    if (stage === this.lastStage && now - this.lastAt < this.intervalMs) return;
    this.lastStage = stage;
    this.push(this.outcome(p));
  }

  async settle(): Promise<void> {
    this.closed = true;
    this.waiting = undefined;
    await this.inFlight;
  }

  private outcome(p: Progress | undefined): CommandOutcome {
    const step = p ? ` — now \`${p.phase}${p.step ? ` / ${p.step}` : ''}\`` : '';
    return {
      command: this.command,
      exitCode: 0,
      summary: `⏳ \`${this.command}\` running since ${this.since.toISOString()}${step}; this report updates every few minutes and when the step ends.`,
      ...(p ? { progress: p } : {}),
      running: true,
    };
  }

  private push(outcome: CommandOutcome): void {
    if (this.closed) return;
    this.lastAt = Date.now();
    const idle = this.waiting === undefined;
    this.waiting = outcome;
    if (!idle) return; // already queued behind the one in flight: the newest replaces it
    this.inFlight = this.inFlight.then(async () => {
      const next = this.waiting;
      this.waiting = undefined;
      if (next && !this.closed) await this.publish(next).catch(() => undefined);
    });
  }
}
