import type { Side } from '../mongo/connect.js';
import { redactUri } from '../redact.js';
import { fail, pass, type Check } from './types.js';

/** Reachability and authentication: name resolution, refused, timeout, TLS, authentication told apart. */
export function connectionCheck(side: Side): Check {
  return {
    id: `${side}.connection`,
    title: `${side === 'source' ? 'Source' : 'Destination'} reachable and authenticated`,
    needs: [],
    async run(context) {
      const conn = context[side];
      if (conn.connectFailure) return fail(conn.connectFailure.message, conn.connectFailure.remedy);
      return pass(`connected to ${redactUri(conn.uri)} in ${conn.connectMs} ms`);
    },
  };
}
