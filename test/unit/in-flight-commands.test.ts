import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { InFlightCommands } from '../../src/mongo/in-flight-commands.js';

/** The driver's command monitoring as a client emits it (only the events and fields the watch reads). */
function monitoredClient(): MongoClient & EventEmitter {
  return new EventEmitter() as unknown as MongoClient & EventEmitter;
}

describe('InFlightCommands', () => {
  it('names the command that has waited longest for its reply, and forgets replied and failed ones', () => {
    const source = monitoredClient();
    const destination = monitoredClient();
    const commands = new InFlightCommands([
      { side: 'source', client: source },
      { side: 'destination', client: destination },
    ]);
    expect(commands.oldest()).toBeUndefined();
    // The driver's request ids are per process; the same id on two clients must not mix.
    source.emit('commandStarted', { requestId: 7, commandName: 'find' });
    destination.emit('commandStarted', { requestId: 7, commandName: 'update' });
    // Taken after the starts: a clock tick between them made "waited at least 5 s" fail now and then.
    const t0 = Date.now();
    expect(commands.oldest(t0 + 5000)).toEqual({ what: 'a find on the source', waitedMs: expect.any(Number) as number });
    expect(commands.oldest(t0 + 5000)!.waitedMs).toBeGreaterThanOrEqual(5000);
    source.emit('commandSucceeded', { requestId: 7, commandName: 'find' });
    expect(commands.oldest()?.what).toBe('an update on the destination');
    destination.emit('commandFailed', { requestId: 7, commandName: 'update' });
    expect(commands.oldest()).toBeUndefined();
  });
});
