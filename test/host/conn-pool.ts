/**
 * Envoy's TCP connection pool as dubbo_proxy and thrift_proxy routers use it (one pool per
 * cluster per worker; source/common/tcp/conn_pool.cc via ThreadLocalCluster::tcpConnPool):
 * - `newConnection`: an idle connection is handed over at once (the router continues in the same
 *   call: UpstreamRequest::start returns Continue); otherwise a connection is opened and the
 *   request waits (StopIteration until onPoolReady / onPoolFailure).
 * - a connection belongs to one request until that request releases it (`conn_data_.reset()` in
 *   onResponseComplete returns it to the pool as idle) or closes it (resetStream: NoFlush close).
 * - an idle connection the peer closes leaves the pool.
 * The endpoint is chosen per new connection by the cluster's load balancer (cluster.ts).
 */
import type * as net from "node:net";
import { chooseEndpoint, connectUpstream, DEFAULT_CONNECT_TIMEOUT_MS, type ConnectFailure } from "./cluster.js";
import type { ActiveReadFilter } from "./filter-manager.js";
import { defaultRandom } from "./rpc-route-match.js";
import { Stats } from "./tcp.js";
import type { Address, ClusterConfig, ConnectionEvent, DataBuffer, DataPlaneHost, FilterStatus, NetworkFilter } from "./types.js";

/** One upstream connection while a request holds it. */
export interface PooledConnection {
  readonly socket: net.Socket;
  readonly address: Address;
  /** Per-connection state a proxy keeps (thrift_proxy's ThriftConnectionState). */
  state: Record<string, unknown>;
  /** Bytes from upstream go here while a request holds the connection. */
  onData: ((chunk: Buffer) => void) | undefined;
  /** The peer closed or reset the connection while a request held it. */
  onClose: (() => void) | undefined;
}

export interface PoolCallbacks {
  onPoolReady(conn: PooledConnection): void;
  /** `host` is the endpoint tried (undefined when the cluster has none). */
  onPoolFailure(reason: ConnectFailure, host: Address | undefined, detail: string): void;
}

export class TcpConnPool {
  private readonly idle: PooledConnection[] = [];
  private readonly all = new Set<net.Socket>();
  /** Connections opened (for tests: pooling reuses them). */
  connectionsOpened = 0;

  constructor(private readonly config: ClusterConfig) {}

  /** Returns true when `cb.onPoolReady` already ran (an idle connection was free). */
  newConnection(cb: PoolCallbacks): boolean {
    const conn = this.idle.pop();
    if (conn !== undefined) {
      cb.onPoolReady(conn);
      return true;
    }
    const ep = chooseEndpoint(this.config);
    if (ep === undefined) {
      cb.onPoolFailure("RemoteConnectionFailure", undefined, "no endpoint");
      return false;
    }
    this.connectionsOpened++;
    connectUpstream(ep, this.config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, {
      onConnected: (socket) => {
        const pooled: PooledConnection = { socket, address: ep, state: {}, onData: undefined, onClose: undefined };
        socket.on("data", (chunk: Buffer) => {
          if (pooled.onData !== undefined) pooled.onData(chunk);
          // Bytes on an idle connection answer nothing: Envoy's pool closes it.
          else socket.destroy();
        });
        socket.once("close", () => {
          const i = this.idle.indexOf(pooled);
          if (i >= 0) this.idle.splice(i, 1);
          pooled.onClose?.();
        });
        socket.on("end", () => socket.end());
        socket.on("error", () => {});
        cb.onPoolReady(pooled);
      },
      onFailure: (reason, detail) => cb.onPoolFailure(reason, ep, detail),
    }, (s) => {
      this.all.add(s);
      s.once("close", () => this.all.delete(s));
    });
    return false;
  }

  /** The request is done with the connection: back to idle. */
  release(conn: PooledConnection): void {
    conn.onData = undefined;
    conn.onClose = undefined;
    if (!conn.socket.destroyed) this.idle.push(conn);
  }

  /** The request reset: close NoFlush. */
  discard(conn: PooledConnection): void {
    conn.onData = undefined;
    conn.onClose = undefined;
    conn.socket.destroy();
  }

  async close(): Promise<void> {
    const closing = [...this.all].map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once("close", () => r()))));
    for (const s of this.all) s.destroy();
    this.idle.length = 0;
    await Promise.all(closing);
  }
}

/** Pools by cluster name, created on first use. */
export class ClusterPools {
  private readonly pools = new Map<string, TcpConnPool>();

  pool(name: string, config: ClusterConfig): TcpConnPool {
    let p = this.pools.get(name);
    if (p === undefined) {
      p = new TcpConnPool(config);
      this.pools.set(name, p);
    }
    return p;
  }

  connectionsOpened(name: string): number {
    return this.pools.get(name)?.connectionsOpened ?? 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/** A terminal proxy's upstream side as its requests reach it: its pools and the host's clusters. */
export interface PoolOwner {
  readonly pools: ClusterPools;
  readonly host: { readonly clusters: Map<string, ClusterConfig> };
}

/**
 * One routed request's hold on a pooled connection (dubbo_proxy's and thrift_proxy's
 * router_impl.cc UpstreamRequest): waiting for the pool, then holding the connection until the
 * response (`response` collects its bytes) releases it or a reset closes it.
 */
export abstract class PooledRequest implements PoolCallbacks {
  protected conn: PooledConnection | undefined;
  protected waiting = true;
  protected response: Buffer = Buffer.alloc(0);

  constructor(
    private readonly owner: PoolOwner,
    readonly cluster: string,
  ) {}

  protected get pool(): TcpConnPool {
    return this.owner.pools.pool(this.cluster, this.owner.host.clusters.get(this.cluster)!);
  }

  abstract onPoolReady(conn: PooledConnection): void;
  abstract onPoolFailure(reason: ConnectFailure, host: Address | undefined, detail: string): void;

  /** UpstreamRequest::resetStream: a held connection closes NoFlush. */
  reset(): void {
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined) this.pool.discard(conn);
  }

  /**
   * Adds the request to its connection manager's `active` set and asks the pool for a
   * connection; true when it now waits for one (the manager stops decoding until then).
   */
  start(active: Set<PooledRequest>, config: ClusterConfig): boolean {
    active.add(this);
    const ready = this.owner.pools.pool(this.cluster, config).newConnection(this);
    return !ready && active.has(this);
  }
}

/**
 * The downstream side of dubbo_proxy's and thrift_proxy's ConnectionManager (conn_manager.cc): the
 * bytes not yet decoded, whether decoding waits for an upstream connection (`stopped`), and the
 * requests in flight, all reset when the downstream connection closes.
 */
export abstract class PooledConnectionManager<R extends PooledRequest> implements NetworkFilter {
  protected buffer: Buffer = Buffer.alloc(0);
  protected stopped = false;
  protected readonly active = new Set<R>();

  constructor(protected readonly cb: ActiveReadFilter) {}

  onNewConnection(): FilterStatus {
    return "Continue";
  }

  abstract onData(data: DataBuffer, endStream: boolean): FilterStatus;

  /** Decodes and dispatches every complete message of the connection's buffered bytes. */
  protected abstract dispatch(): void;

  /** Moves the read buffer into the decoder's (the proxy owns the bytes), then dispatches. */
  protected take(data: DataBuffer): void {
    this.buffer = Buffer.concat([this.buffer, data.bytes]);
    data.bytes = new Uint8Array(0);
    this.dispatch();
  }

  onWrite(): FilterStatus {
    return "Continue";
  }

  onEvent(_event: ConnectionEvent): void {
    this.resetAll();
  }

  get open(): boolean {
    return this.cb.manager.state === "Open";
  }

  write(bytes: Buffer): void {
    if (this.open) this.cb.manager.write(bytes, false);
  }

  done(req: R): void {
    this.active.delete(req);
  }

  protected resetAll(): void {
    for (const r of [...this.active]) r.reset();
    this.active.clear();
  }
}

export interface PooledProxyOptions {
  /** The per-request random value (weighted clusters). @default Math.random-based */
  readonly random?: () => number;
}

/**
 * One configured dubbo_proxy or thrift_proxy (one listener's filter, one worker): its stats
 * (`<statRoot>.<stat_prefix>.<name>`) and connection pools. `terminal` goes into a
 * TcpFilterChain; `close()` closes the pooled upstream connections.
 */
export abstract class PooledProxy implements PoolOwner {
  readonly stats = new Stats();
  readonly pools = new ClusterPools();
  readonly random: () => number;

  constructor(
    private readonly statRoot: string,
    readonly statPrefix: string,
    readonly host: DataPlaneHost,
    opts: PooledProxyOptions,
  ) {
    this.random = opts.random ?? defaultRandom;
  }

  /** The filter factory for a chain's `terminal`. */
  abstract readonly terminal: (cb: ActiveReadFilter) => NetworkFilter;

  inc(stat: string): void {
    this.stats.inc(`${this.statRoot}.${this.statPrefix}.${stat}`);
  }

  close(): Promise<void> {
    return this.pools.close();
  }
}
