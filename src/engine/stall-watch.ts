import type { Logger } from '../log.js';

/** How long one stage may wait before it is reported, and how often it is reported again while it waits. */
const REPORT_AFTER_MS = 30_000;
const CHECK_EVERY_MS = 10_000;

/**
 * Names the stage a long-running loop is waiting in, and says so in the log when one stage lasts longer than
 * any of its operations should (every driver wait here is bounded by a timeout). A loop that waits on something
 * that neither fails nor finishes otherwise goes silent: CI once saw a tail slice log nothing for 160 s, with no
 * way to tell which await held it.
 */
export class StallWatch {
  private stage = 'starting';
  private since = Date.now();
  private lastReport = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly log: Logger, private readonly what: string, private readonly reportAfterMs = REPORT_AFTER_MS) {
    this.timer = setInterval(() => this.report(), Math.min(CHECK_EVERY_MS, reportAfterMs)).unref();
  }

  /** The loop now waits in this stage. */
  enter(stage: string): void {
    this.stage = stage;
    this.since = Date.now();
    this.lastReport = 0;
  }

  /** Waits for one stage's promise (nothing to wait for when it is undefined). */
  async in<T>(stage: string, waitFor: Promise<T> | T): Promise<T> {
    this.enter(stage);
    return waitFor;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private report(): void {
    const now = Date.now();
    const waiting = now - this.since;
    if (waiting < this.reportAfterMs || now - this.lastReport < this.reportAfterMs) return;
    this.lastReport = now;
    this.log.warn({ stage: this.stage, waitingSeconds: Math.round(waiting / 1000) }, `${this.what} has waited ${Math.round(waiting / 1000)} s in one stage (${this.stage})`);
  }
}
