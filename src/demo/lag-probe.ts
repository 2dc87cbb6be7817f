import { setTimeout as sleep } from 'node:timers/promises';
import type { MongoClient, ObjectId } from 'mongodb';

/**
 * An outside view of the lag, independent of what the engine reports: now and then it takes the live writer's
 * newest acknowledged insert and polls the destination (through the renames) until that document appears.
 * The delay from acknowledgement on the source to visibility on the destination is what an application
 * switching over would see.
 */
export interface LagProbeResult {
  samples: number;
  p50Seconds: number | null;
  maxSeconds: number | null;
  /** Inserts not visible on the destination within the probe's patience (30 s). */
  timedOut: number;
}

export interface ProbeTarget {
  db: string;
  coll: string;
  id: ObjectId;
  /** When the source acknowledged the insert (ms since epoch). */
  acknowledgedAt: number;
}

const EVERY_MS = 1000;
const POLL_MS = 25;
const PATIENCE_MS = 30_000;

export class LagProbe {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly delays: number[] = [];
  private timedOut = 0;

  constructor(
    private readonly destination: MongoClient,
    private readonly latest: () => ProbeTarget | undefined,
    private readonly target: (db: string, coll: string) => { db: string; coll: string },
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<LagProbeResult> {
    this.stopping = true;
    await this.loop;
    const sorted = [...this.delays].sort((a, b) => a - b);
    const at = (q: number): number | null => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / 1000 : null);
    return { samples: sorted.length, p50Seconds: at(0.5), maxSeconds: sorted.length ? sorted[sorted.length - 1]! / 1000 : null, timedOut: this.timedOut };
  }

  private async run(): Promise<void> {
    let last: ObjectId | undefined;
    while (!this.stopping) {
      const probe = this.latest();
      if (probe && !(last && probe.id.equals(last))) {
        last = probe.id;
        await this.await(probe);
      }
      if (!this.stopping) await sleep(EVERY_MS);
    }
  }

  private async await(probe: ProbeTarget): Promise<void> {
    const t = this.target(probe.db, probe.coll);
    const collection = this.destination.db(t.db).collection(t.coll);
    while (Date.now() - probe.acknowledgedAt < PATIENCE_MS) {
      if (await collection.findOne({ _id: probe.id }, { projection: { _id: 1 } })) {
        this.delays.push(Date.now() - probe.acknowledgedAt);
        return;
      }
      // Stopped while waiting: this sample is incomplete, not late.
      if (this.stopping) return;
      await sleep(POLL_MS);
    }
    this.timedOut++;
  }
}
