import type { Side } from '../mongo/connect.js';
import type { HelloReply } from '../mongo/introspection.js';
import { MAJORITY_FAIL_BEHIND_S, MAJORITY_WARN_BEHIND_S, majorityBehindSeconds, majorityRemedy, majorityStallEffect, majorityTrailing } from '../mongo/majority-point.js';
import { formatDuration } from '../format.js';
import { fail, pass, plural, warn, type Check, type Finding } from './types.js';

/** Pure: whether the side's majority keeps up with its writes, and whether one member down would stop it. */
export function assessMajority(side: Side, reply: HelloReply): Finding {
  const behind = majorityBehindSeconds(reply);
  if (behind !== undefined && behind >= MAJORITY_FAIL_BEHIND_S) {
    return fail(majorityTrailing(side, behind), `${majorityRemedy(side)}, before migrating`);
  }
  if (behind !== undefined && behind >= MAJORITY_WARN_BEHIND_S) {
    return warn(`${majorityTrailing(side, behind)}, so the migration runs at least that far behind`, majorityRemedy(side));
  }
  const arbiters = reply.arbiters?.length ?? 0;
  if (arbiters) {
    return warn(
      `the ${side} has ${plural(arbiters, 'arbiter')}: with one data-bearing member down it keeps a primary but loses its majority of data-bearing members, and then ${majorityStallEffect(side)}`,
      `keep every data-bearing member of the ${side} up while the migration runs, or replace the arbiter with a data-bearing member`,
    );
  }
  return pass(behind === undefined ? 'the primary does not report its majority commit point' : `majority commit point ${formatDuration(behind)} behind the last write`);
}

export function majorityCheck(side: Side): Check {
  return {
    id: `${side}.majority`,
    title: `${side === 'source' ? 'Source' : 'Destination'} majority keeps up with its writes`,
    needs: [side],
    run: async (context) => assessMajority(side, await context.facts.hello(side)),
  };
}
