import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { InFlightCommands } from '../../src/mongo/in-flight-commands.js';

/** A client's connection pool events as the driver emits them (only the events and fields the watch reads). */
function pooledClient(): MongoClient & EventEmitter {
  return new EventEmitter() as unknown as MongoClient & EventEmitter;
}

describe('InFlightCommands', () => {
  it('names the side of the operation that has waited longest for its reply, and forgets those whose connection came back', () => {
    const source = pooledClient();
    const destination = pooledClient();
    const commands = new InFlightCommands([
      { side: 'source', client: source },
      { side: 'destination', client: destination },
    ]);
    expect(commands.oldest()).toBeUndefined();
    // Connection ids are per pool: the same id on two clients, or on two hosts of one client, must not mix.
    source.emit('connectionCheckedOut', { address: 'a:1', connectionId: 7 });
    destination.emit('connectionCheckedOut', { address: 'a:1', connectionId: 7 });
    destination.emit('connectionCheckedOut', { address: 'b:1', connectionId: 7 });
    // Taken after the check-outs: a clock tick between them made "waited at least 5 s" fail now and then.
    const t0 = Date.now();
    expect(commands.oldest(t0 + 5000)).toEqual({ what: 'an operation on the source', waitedMs: expect.any(Number) as number });
    expect(commands.oldest(t0 + 5000)!.waitedMs).toBeGreaterThanOrEqual(5000);
    source.emit('connectionCheckedIn', { address: 'a:1', connectionId: 7 });
    expect(commands.oldest()?.what).toBe('an operation on the destination');
    destination.emit('connectionCheckedIn', { address: 'a:1', connectionId: 7 });
    expect(commands.oldest()?.what).toBe('an operation on the destination');
    destination.emit('connectionCheckedIn', { address: 'b:1', connectionId: 7 });
    expect(commands.oldest()).toBeUndefined();
  });
});
