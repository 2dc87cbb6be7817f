import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb';

export interface WaitingCommand {
  /** The command's name and the side it went to, e.g. "a find on the source". */
  what: string;
  waitedMs: number;
}

/**
 * The commands some clients have sent and not had a reply to yet, from the driver's command monitoring (the
 * clients are opened with `monitorCommands: true`). For a caller whose commands are too many, and spread over
 * too many modules, to bound one by one (withinBound in stall-bound.ts): it watches the oldest instead.
 */
export class InFlightCommands {
  private readonly pending = new Map<string, { what: string; since: number }>();

  constructor(clients: readonly { side: string; client: MongoClient }[]) {
    for (const { side, client } of clients) {
      const key = (requestId: number): string => `${side}:${requestId}`;
      client.on('commandStarted', (event: CommandStartedEvent) => this.pending.set(key(event.requestId), { what: `${article(event.commandName)} ${event.commandName} on the ${side}`, since: Date.now() }));
      const replied = (event: CommandSucceededEvent | CommandFailedEvent): void => {
        this.pending.delete(key(event.requestId));
      };
      client.on('commandSucceeded', replied);
      client.on('commandFailed', replied);
    }
  }

  /** The command that has waited longest for its reply, if any is waiting. */
  oldest(now = Date.now()): WaitingCommand | undefined {
    let oldest: { what: string; since: number } | undefined;
    for (const command of this.pending.values()) if (!oldest || command.since < oldest.since) oldest = command;
    return oldest && { what: oldest.what, waitedMs: now - oldest.since };
  }
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
