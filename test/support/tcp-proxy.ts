import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, between the runner and one mongod: it forwards bytes both ways, and on
 * command cuts every open connection (TCP reset, as a dropped network path or a restarted load balancer
 * looks to the client), refuses new ones for a while, stays down until resumed, or freezes the open ones: they
 * stay open and deliver nothing more (a NAT or firewall that silently forgot them), while new ones work.
 *
 * The driver discovers a replica set's members from their advertised host names and would connect to them
 * around the proxy: point the runner at the proxy with `directConnection=true` (a one-member set), which is
 * how a real network path between a runner and a cluster behaves.
 */
export class TcpProxy {
  private readonly open = new Set<Socket>();
  /** Connections frozen by freeze(): open, delivering nothing, until the proxy closes. */
  private readonly frozen = new Set<Socket>();
  /** When the client closed each frozen connection (ms since epoch): a client that gave up on a lost reply. */
  readonly frozenClosedAt: number[] = [];
  /** Each open connection's two sockets, and when each last sent bytes (a request waits for its reply while the client's are newer). */
  private readonly pairs = new Map<Socket, { client: Socket; upstream: Socket; clientAt: number; upstreamAt: number }>();
  private refuseUntil = 0;
  private isDown = false;
  /** Connections accepted and forwarded. */
  accepted = 0;
  /** Connections cut by dropAll() while open. */
  dropped = 0;
  /** Connection attempts turned away while refusing or down. */
  refused = 0;

  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    // The server exists before the proxy object that handles its connections (none arrive before listen).
    const holder: { proxy?: TcpProxy } = {};
    const server = createServer({ noDelay: true }, (client) => holder.proxy!.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the proxy has no TCP address');
    holder.proxy = new TcpProxy(server, address.port, { host: targetHost, port: targetPort });
    return holder.proxy;
  }

  /** host:port of the proxy, for a connection string. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A connection string through the proxy to the one member behind it. */
  uri(query = ''): string {
    return `mongodb://${this.host}/?directConnection=true${query ? `&${query}` : ''}`;
  }

  /** Cuts every open connection now (both directions, with a reset). Returns how many were cut. */
  dropAll(): number {
    const sockets = [...this.open];
    for (const socket of sockets) cut(socket);
    this.dropped += sockets.length / 2;
    return sockets.length / 2;
  }

  /** Cuts every open connection and turns new ones away for `ms` milliseconds. */
  refuseFor(ms: number): void {
    this.dropAll();
    this.refuseUntil = Math.max(this.refuseUntil, Date.now() + ms);
  }

  /** Cuts everything and stays down until resume(). */
  down(): void {
    this.isDown = true;
    this.dropAll();
  }

  /**
   * Every open connection stops delivering bytes either way, and stays open; new connections work (a NAT that
   * forgot them). With `awaitingReply`, only connections whose request has no reply yet: a lost reply, which leaves
   * the driver's monitor (whose server pushes a reply every few seconds) and idle pooled connections working.
   * Returns how many connections were frozen.
   */
  freeze(options: { awaitingReply?: boolean } = {}): number {
    let count = 0;
    for (const pair of [...this.pairs.values()]) {
      if (options.awaitingReply && pair.clientAt <= pair.upstreamAt) continue;
      pair.client.once('close', () => this.frozenClosedAt.push(Date.now()));
      for (const socket of [pair.client, pair.upstream]) {
        socket.unpipe();
        socket.removeAllListeners('data');
        // Read and dropped, so that a close from either end is still seen.
        socket.on('data', () => undefined);
        this.open.delete(socket);
        this.frozen.add(socket);
      }
      this.pairs.delete(pair.client);
      count++;
    }
    return count;
  }

  resume(): void {
    this.isDown = false;
    this.refuseUntil = 0;
  }

  async close(): Promise<void> {
    this.down();
    for (const socket of this.frozen) socket.destroy();
    this.frozen.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.isDown || Date.now() < this.refuseUntil) {
      this.refused++;
      cut(client);
      return;
    }
    this.accepted++;
    const upstream = netConnect({ host: this.target.host, port: this.target.port, noDelay: true });
    this.open.add(client);
    this.open.add(upstream);
    const pair = { client, upstream, clientAt: 0, upstreamAt: 0 };
    this.pairs.set(client, pair);
    client.on('data', () => (pair.clientAt = performance.now()));
    upstream.on('data', () => (pair.upstreamAt = performance.now()));
    const forget = (): void => {
      this.pairs.delete(client);
      this.open.delete(client);
      this.open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** A reset where the platform can send one (the abrupt end a client sees on a cut path), else a plain close. */
function cut(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') socket.resetAndDestroy();
  else socket.destroy();
}
