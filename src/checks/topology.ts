import type { Side } from '../mongo/connect.js';
import { topologyOf, type HelloReply } from '../mongo/introspection.js';
import { fail, pass, plural, type Check, type Finding } from './types.js';

/** Pure: what a hello reply says about the side's fitness. Change streams and the oplog need a replica set. */
export function assessTopology(side: Side, reply: HelloReply): Finding {
  const topology = topologyOf(reply);
  if (topology === 'mongos') {
    return side === 'source'
      ? fail('the source is a mongos (a sharded cluster); sharded sources are not supported yet', 'sharded sources are not supported yet: for a sharded cluster use MongoDB\'s mongosync (or Atlas Live Migration); point source.uri at a replica set otherwise')
      : fail('the destination is a mongos (a sharded cluster); only replica-set destinations are supported', 'point destination.uri at a replica set (an Atlas replica-set cluster)');
  }
  if (topology === 'standalone') {
    return side === 'source'
      ? fail('the source is a standalone mongod: it has no oplog, so changes cannot be captured', 'convert it to a replica set: restart mongod with --replSet <name> and run rs.initiate() (a one-member set is enough)')
      : fail('the destination is a standalone mongod; a replica set is required (majority writes, transactions for the state store)', 'convert it to a replica set: restart mongod with --replSet <name> and run rs.initiate()');
  }
  return pass(`replica set "${reply.setName}" with ${reply.hosts ? plural(reply.hosts.length, 'member') : '? members'}`);
}

export function topologyCheck(side: Side): Check {
  return {
    id: `${side}.topology`,
    title: `${side === 'source' ? 'Source' : 'Destination'} is a replica set`,
    needs: [side],
    run: async (context) => assessTopology(side, await context.facts.hello(side)),
  };
}
