import type { Side } from '../mongo/connect.js';
import { pass, warn, type Check, type Finding } from './types.js';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?)$/i;

export interface UriTransport {
  srv: boolean;
  hosts: string[];
  options: Map<string, string>;
}

/** Pure: the hosts and options of a connection string (never its credentials). */
export function parseTransport(uri: string): UriTransport {
  const match = /^(mongodb(?:\+srv)?):\/\/(?:[^@/]*@)?([^/?]*)(?:\/[^?]*)?(?:\?(.*))?$/i.exec(uri.trim());
  const options = new Map<string, string>();
  for (const part of (match?.[3] ?? '').split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    options.set(decodeURIComponent(eq < 0 ? part : part.slice(0, eq)).toLowerCase(), decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1)).toLowerCase());
  }
  const hosts = (match?.[2] ?? '').split(',').filter(Boolean).map((h) => (h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '')));
  return { srv: /^mongodb\+srv/i.test(uri.trim()), hosts, options };
}

/** Pure: plain-text connections to other machines and disabled certificate checks are warnings. */
export function assessTransport(side: Side, uri: string): Finding {
  const t = parseTransport(uri);
  const on = (name: string): boolean => t.options.get(name) === 'true';
  const tls = t.srv ? t.options.get('tls') !== 'false' && t.options.get('ssl') !== 'false' : on('tls') || on('ssl');
  const remote = t.hosts.filter((h) => !LOOPBACK.test(h));
  const problems: string[] = [];
  const remedies: string[] = [];
  if (!tls && remote.length) {
    problems.push(`no TLS to ${remote.join(', ')}: data and credentials cross the network in clear text`);
    remedies.push('add tls=true to the connection string (and tlsCAFile=<ca.pem> for a private CA)');
  }
  const insecure = ['tlsallowinvalidcertificates', 'tlsinsecure', 'tlsallowinvalidhostnames', 'sslallowinvalidcertificates', 'sslallowinvalidhostnames'].filter(on);
  if (insecure.length) {
    problems.push(`${insecure.join(', ')} disables certificate checking: anyone in the path can impersonate the server`);
    remedies.push(`remove ${insecure.join(', ')} and trust the server's CA with tlsCAFile=<ca.pem>`);
  }
  if (problems.length) return warn(`${side}: ${problems.join('; ')}`, remedies.join('; '));
  return pass(tls ? `${side}: TLS on, certificates verified` : `${side}: loopback only (${t.hosts.join(', ')}), no TLS needed`);
}

export function transportCheck(side: Side): Check {
  return {
    id: `${side}.transport`,
    title: `${side === 'source' ? 'Source' : 'Destination'} connection security`,
    needs: [],
    run: async (context) => assessTransport(side, context[side].uri),
  };
}
