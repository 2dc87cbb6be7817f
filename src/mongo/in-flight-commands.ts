import type { ConnectionCheckedInEvent, ConnectionCheckedOutEvent, MongoClient } from 'mongodb';

export interface WaitingCommand {
  /** The side the operation went to, e.g. "an operation on the source". */
  what: string;
  waitedMs: number;
}

/**
 * The operations some clients have under way, from their connection pools: a connection checked out and not
 * checked in is an operation that has not had its reply. For a caller whose commands are too many, and spread over
 * too many modules, to bound one by one (withinBound in stall-bound.ts): it watches the oldest instead.
 *
 * Why the pool and not the driver's command monitoring (`monitorCommands`), which would name the command: with it
 * the driver decodes every reply whole into JavaScript objects for its event, the batches of cursors it otherwise
 * reads lazily included (bench/README.md, "The verifier's replies no longer decoded twice").
 */
export class InFlightCommands {
  private readonly pending = new Map<string, { what: string; since: number }>();

  constructor(clients: readonly { side: string; client: MongoClient }[]) {
    for (const { side, client } of clients) {
      // Connection ids are per pool, so the address goes into the key too; the side keeps two clients apart.
      const key = (event: ConnectionCheckedOutEvent | ConnectionCheckedInEvent): string => `${side}:${event.address}:${event.connectionId}`;
      const what = `an operation on the ${side}`;
      client.on('connectionCheckedOut', (event: ConnectionCheckedOutEvent) => this.pending.set(key(event), { what, since: Date.now() }));
      client.on('connectionCheckedIn', (event: ConnectionCheckedInEvent) => {
        this.pending.delete(key(event));
      });
    }
  }

  /** The operation that has waited longest for its reply, if any is waiting. */
  oldest(now = Date.now()): WaitingCommand | undefined {
    let oldest: { what: string; since: number } | undefined;
    for (const command of this.pending.values()) if (!oldest || command.since < oldest.since) oldest = command;
    return oldest && { what: oldest.what, waitedMs: now - oldest.since };
  }
}
