import { afterAll, beforeAll } from 'vitest';
import { sharedClusters, useSharedClients, type SharedClients } from './clusters.js';
import { TcpProxy } from './tcp-proxy.js';

/** The shared clusters' clients (direct, for the test's writer and checks) and a proxy in front of each (for the runner). */
export interface ProxiedClusters extends SharedClients {
  proxies: { source: TcpProxy; destination: TcpProxy };
}

/** host:port of the first member of a connection string (the shared sets have one member). */
function firstMember(uri: string): { host: string; port: number } {
  const hosts = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)![1]!;
  const [host, port] = hosts.split(',')[0]!.split(':') as [string, string | undefined];
  return { host, port: Number(port ?? 27017) };
}

/**
 * Registers a TCP proxy in front of each shared cluster for the block (see tcp-proxy.ts), and closes both after it.
 * The runner reaches the clusters only through them (proxies.*.uri()); the returned clients go direct.
 */
export function useProxiedClusters(): ProxiedClusters {
  const fixture = useSharedClients() as ProxiedClusters;
  beforeAll(async () => {
    const { sourceUri, destinationUri } = sharedClusters();
    const s = firstMember(sourceUri);
    const d = firstMember(destinationUri);
    fixture.proxies = { source: await TcpProxy.start(s.port, s.host), destination: await TcpProxy.start(d.port, d.host) };
  });
  afterAll(async () => {
    await fixture.proxies?.source.close();
    await fixture.proxies?.destination.close();
  });
  return fixture;
}
