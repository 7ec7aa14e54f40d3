/**
 * A real TCP data plane: listener → filter chain (network filters + tcp_proxy) → cluster.
 *
 * tcp_proxy is copied from envoyproxy/envoy source/common/tcp_proxy/tcp_proxy.cc (Envoy 1.37,
 * `upstream_connect_mode` from PR #41696):
 * - `initialize` (at filter creation, before any onNewConnection): enables half-close and, unless
 *   early data is allowed (`max_early_data_bytes` set), `readDisable(true)`. So in the default
 *   IMMEDIATE mode a filter in front that returns StopIteration from onNewConnection waiting for
 *   data never gets any: deadlock (envoy#25604).
 * - `onNewConnection`: picks the route (filter state `envoy.tcp_proxy.cluster`, else `cluster`).
 *   IMMEDIATE connects now. ON_DOWNSTREAM_DATA also picks the route here ("Pre-pick the route")
 *   and connects on the first data: a cluster a filter writes to filter state on first data is
 *   ignored unless that filter stopped onNewConnection, which defers tcp_proxy's onNewConnection
 *   until it continues. Envoy PR #44109 (runtime guard
 *   `envoy.reloadable_features.tcp_proxy_delay_route_selection`, after 1.37) moves the pick to
 *   connect time: option `delayRouteSelection`.
 * - `onData` before upstream exists: early data buffered (drained from the read buffer), reads
 *   disabled once it holds `max_early_data_bytes`; flushed when upstream connects.
 * - `onUpstreamConnection`: flush early data, re-enable reads, then `continueReading()`.
 * - connect failure: `max_connect_attempts` (default 1) attempts, then UpstreamRetryLimitExceeded
 *   (URX) and the downstream closed NoFlush (`onInitFailure`). Unknown cluster: NoClusterFound
 *   (NC), `downstream_cx_no_route`, closed NoFlush.
 * - upstream close → downstream close(FlushWrite); upstream RST → downstream AbortReset
 *   (runtime feature `propagate_upstream_rst_through_tunneled_tcp_proxy`). Downstream RemoteClose →
 *   upstream close(FlushWrite), LocalClose → upstream close(NoFlush) (TcpUpstream::onDownstreamEvent).
 * - flow control: upstream write buffer above its watermark → downstream readDisable; downstream
 *   above its watermark → upstream reads paused (node's socket.write() answer stands in for
 *   Envoy's watermarks).
 *
 * Listener: the listener filters (listener-filters.ts: tls_inspector, http_inspector, the
 * listener-filter timeout) run first, then `pickFilterChain` selects the chain from what they
 * found, as Envoy's ActiveTcpSocket → ActiveTcpListener::newConnection does.
 */
import * as net from "node:net";
import { chooseEndpoint, connectUpstream, DEFAULT_CONNECT_TIMEOUT_MS, resolveCluster } from "./cluster.js";
import {
  EMPTY,
  NetworkFilterManager,
  toNetworkFactory,
  type ActiveReadFilter,
  type CloseType,
  type Transport,
} from "./filter-manager.js";
import { runListenerFilters, type ListenerFilterOptions } from "./listener-filters.js";
import {
  FilterState,
  type Address,
  type ConnectionEvent,
  type ConnectionInfo,
  type DataBuffer,
  type DataPlaneHost,
  type FilterStatus,
  type ListenerDirection,
  type NetworkFilter,
  type NetworkFilterSource,
} from "./types.js";

export type UpstreamConnectMode = "IMMEDIATE" | "ON_DOWNSTREAM_DATA";

export interface TcpProxyConfig {
  /** Default cluster; filter state `envoy.tcp_proxy.cluster` overrides it per connection. */
  readonly cluster?: string;
  /** @default "IMMEDIATE" */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** Envoy requires it for non-IMMEDIATE modes; setting it also lets IMMEDIATE read early. */
  readonly maxEarlyDataBytes?: number;
  /** @default 3_600_000 (Envoy's 1 h); 0 disables. */
  readonly idleTimeoutMs?: number;
  /** @default 1 */
  readonly maxConnectAttempts?: number;
  /** @default "tcp" — stats are `tcp.<statPrefix>.*`. */
  readonly statPrefix?: string;
  /** Envoy PR #44109 runtime guard: pick the route when connecting, not on new connection. */
  readonly delayRouteSelection?: boolean;
}

/**
 * The part of Envoy's filter_chain_match the emulator understands. An unset or empty field
 * matches anything (it is the catch-all entry at its level). `serverNames` may hold wildcards
 * `*.example.com`; `transportProtocol` is `tls` or `raw_buffer`.
 */
export interface FilterChainMatch {
  readonly destinationPort?: number;
  readonly serverNames?: ReadonlyArray<string>;
  readonly transportProtocol?: string;
  readonly applicationProtocols?: ReadonlyArray<string>;
}

export interface TcpFilterChain {
  readonly name?: string;
  readonly filters: ReadonlyArray<NetworkFilterSource>;
  readonly tcpProxy: TcpProxyConfig;
  readonly match?: FilterChainMatch;
  /** Another terminal filter (dubbo-proxy.ts, thrift-proxy.ts) in tcp_proxy's place; tcpProxy is then unused. */
  readonly terminal?: (callbacks: ActiveReadFilter) => NetworkFilter;
}

export interface TcpListenerOptions extends ListenerFilterOptions {
  readonly filterChains: ReadonlyArray<TcpFilterChain>;
  /** Used when no chain matches (Envoy default_filter_chain). */
  readonly defaultFilterChain?: TcpFilterChain;
  /** Original destination of connections on the main port. @default the listener's address */
  readonly originalDst?: Address;
  readonly direction?: ListenerDirection;
  /** @default "127.0.0.1" */
  readonly bindHost?: string;
}

/** What chain selection looks at (Envoy: socket addresses + what listener filters found). */
export interface ConnectionFacts {
  readonly source: Address;
  readonly destination: Address;
  readonly requestedServerName: string;
  readonly applicationProtocols: ReadonlyArray<string>;
  /** Detected transport protocol; Envoy fills in `raw_buffer` when no listener filter set one. @default "raw_buffer" */
  readonly transportProtocol?: string;
}

/**
 * Envoy's filter chain selection, FilterChainManagerImpl::findFilterChain
 * (source/common/listener_manager/filter_chain_manager_impl.cc), for the fields above. A tree
 * walk, one level per field, without backtracking:
 * 1. destination port: if any chain names this port, only those chains are considered and
 *    when none of them matches further down the DEFAULT chain is used (not the port-less
 *    chains); otherwise the chains without a port (port 0);
 * 2. (destination IP: not emulated, every chain is catch-all);
 * 3. server names: exact name, then wildcards from the longest suffix (`.b.c` before `.c` for
 *    `a.b.c`), then chains without server names;
 * 4. transport protocol: exact, then chains without one;
 * 5. application protocols: the first of the connection's protocols that some chain names,
 *    then chains without application protocols;
 * 6. (source type/IP/port: not emulated.)
 * A level with no candidate ends the walk with no chain → `defaultChain` (undefined = the
 * connection is closed).
 */
export function pickFilterChain(
  chains: ReadonlyArray<TcpFilterChain>,
  facts: ConnectionFacts,
  defaultChain?: TcpFilterChain,
): TcpFilterChain | undefined {
  const port = facts.destination.port;
  const portOf = (c: TcpFilterChain): number => c.match?.destinationPort ?? 0;
  if (port !== 0) {
    const specific = chains.filter((c) => portOf(c) === port);
    if (specific.length > 0) return byServerName(specific, facts) ?? defaultChain;
  }
  const any = chains.filter((c) => portOf(c) === 0);
  return (any.length > 0 ? byServerName(any, facts) : undefined) ?? defaultChain;
}

function listOrCatchAll(list: ReadonlyArray<string> | undefined): ReadonlyArray<string> {
  return list === undefined || list.length === 0 ? [""] : list;
}

function byServerName(chains: TcpFilterChain[], facts: ConnectionFacts): TcpFilterChain | undefined {
  // Envoy stores "*.example.com" as ".example.com" (filter_chain_manager_impl.cc addFilterChains).
  const keys = (c: TcpFilterChain): ReadonlyArray<string> =>
    listOrCatchAll(c.match?.serverNames).map((n) => (n.startsWith("*.") ? n.slice(1) : n));
  const withKey = (k: string): TcpFilterChain[] => chains.filter((c) => keys(c).includes(k));
  const name = facts.requestedServerName;
  let hit = withKey(name);
  if (hit.length > 0) return byTransportProtocol(hit, facts);
  let pos = name.indexOf(".", 1);
  while (pos !== -1 && pos < name.length - 1) {
    hit = withKey(name.slice(pos));
    if (hit.length > 0) return byTransportProtocol(hit, facts);
    pos = name.indexOf(".", pos + 1);
  }
  hit = withKey("");
  return hit.length > 0 ? byTransportProtocol(hit, facts) : undefined;
}

function byTransportProtocol(chains: TcpFilterChain[], facts: ConnectionFacts): TcpFilterChain | undefined {
  const tp = facts.transportProtocol ?? "raw_buffer";
  const keyOf = (c: TcpFilterChain): string => c.match?.transportProtocol ?? "";
  let hit = chains.filter((c) => keyOf(c) === tp);
  if (hit.length === 0) hit = chains.filter((c) => keyOf(c) === "");
  return hit.length > 0 ? byApplicationProtocols(hit, facts) : undefined;
}

function byApplicationProtocols(chains: TcpFilterChain[], facts: ConnectionFacts): TcpFilterChain | undefined {
  const keys = (c: TcpFilterChain): ReadonlyArray<string> => listOrCatchAll(c.match?.applicationProtocols);
  for (const p of facts.applicationProtocols) {
    const hit = chains.find((c) => keys(c).includes(p));
    if (hit !== undefined) return hit;
  }
  return chains.find((c) => keys(c).includes(""));
}

/**
 * Envoy rejects a listener whose filter chains share a match ("multiple filter chains with the
 * same matching rules are defined", filter_chain_manager_impl.cc); so does the emulator.
 */
function checkDistinctMatches(chains: ReadonlyArray<TcpFilterChain>): void {
  const seen = new Map<string, string>();
  for (const c of chains) {
    const m = c.match;
    for (const sn of listOrCatchAll(m?.serverNames)) {
      for (const ap of listOrCatchAll(m?.applicationProtocols)) {
        const key = JSON.stringify([m?.destinationPort ?? 0, sn, m?.transportProtocol ?? "", ap]);
        const other = seen.get(key);
        if (other !== undefined) {
          throw new Error(
            `filter chains ${JSON.stringify(other)} and ${JSON.stringify(c.name ?? "")}: multiple filter chains with the same matching rules are defined`,
          );
        }
        seen.set(key, c.name ?? "");
      }
    }
  }
}

export class Stats {
  private readonly values = new Map<string, number>();
  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
  entries(): Array<[string, number]> {
    return [...this.values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }
}

/** What tests can see of one downstream connection. */
export interface TcpConnectionRecord {
  readonly id: bigint;
  readonly info: ConnectionInfo;
  readonly filterChainName: string;
  /** What the listener filters found (transport `raw_buffer` when none set it). */
  readonly transportProtocol: string;
  readonly applicationProtocols: ReadonlyArray<string>;
  /** True when the listener-filter timeout fired and continue_on_listener_filters_timeout let it on. */
  readonly listenerFiltersTimedOut: boolean;
  upstreamCluster?: string;
  upstreamConnected: boolean;
  upstreamAddress?: Address;
  /** Bytes read from the downstream socket / written to it. */
  bytesFromDownstream: number;
  bytesToDownstream: number;
  /** Bytes written to the upstream socket / read from it. */
  bytesToUpstream: number;
  bytesFromUpstream: number;
  /** Envoy response flags (UF, URX, NC, UH, UR). */
  readonly responseFlags: string[];
  /** Data-plane events in order, e.g. `read_disabled`, `upstream_connected`, `closed LocalClose`. */
  readonly events: string[];
  /** True while downstream reads are disabled. */
  readonly readDisabled: boolean;
  /** Resolves when the downstream socket and the upstream socket (if any) are closed. */
  readonly closed: Promise<void>;
}

interface ListenerContext {
  readonly host: DataPlaneHost;
  readonly stats: Stats;
  readonly sockets: Set<net.Socket>;
  readonly direction: ListenerDirection;
}

function track(ctx: ListenerContext, s: net.Socket): Promise<void> {
  ctx.sockets.add(s);
  return new Promise((resolve) => {
    s.once("close", () => {
      ctx.sockets.delete(s);
      resolve();
    });
  });
}

const PER_CONNECTION_CLUSTER = "envoy.tcp_proxy.cluster";
const decoder = new TextDecoder();

/** Envoy TcpProxy::Filter, driving a node socket as its upstream. */
export class TcpProxyFilter implements NetworkFilter {
  private readonly manager: NetworkFilterManager;
  private readonly mode: UpstreamConnectMode;
  private readonly receiveBeforeConnect: boolean;
  private readonly maxBuffered: number;
  private readonly prefix: string;
  private route: string | undefined;
  private upstream: net.Socket | undefined;
  private cancelConnect: (() => void) | undefined;
  private connecting = false;
  private connectAttempts = 0;
  private early: Uint8Array = EMPTY;
  private earlyEnd = false;
  private initialDataReceived = false;
  private readDisabledDueToBuffer = false;
  private downstreamClosed = false;
  private upstreamAboveHigh = false;
  private upstreamReadDisabled = false;
  private upstreamWriteEnded = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly upstreamClosedWaiters: Array<Promise<void>> = [];

  constructor(
    private readonly cb: ActiveReadFilter,
    private readonly cfg: TcpProxyConfig,
    private readonly ctx: ListenerContext,
    private readonly record: MutableRecord,
  ) {
    this.manager = cb.manager;
    this.prefix = `tcp.${cfg.statPrefix ?? "tcp"}`;
    this.mode = cfg.upstreamConnectMode ?? "IMMEDIATE";
    if (this.mode !== "IMMEDIATE" && cfg.maxEarlyDataBytes === undefined) {
      // Envoy's Config constructor throws the same.
      throw new Error("max_early_data_bytes must be set when upstream_connect_mode is not IMMEDIATE");
    }
    this.receiveBeforeConnect = cfg.maxEarlyDataBytes !== undefined;
    this.maxBuffered = cfg.maxEarlyDataBytes ?? 0;
    // initialize()
    this.manager.addConnectionCallbacks(this);
    if (!this.receiveBeforeConnect) this.manager.readDisable(true);
    ctx.stats.inc(`${this.prefix}.downstream_cx_total`);
  }

  /** Promise for the upstream sockets this filter opened. */
  upstreamsClosed(): Promise<void> {
    return Promise.all(this.upstreamClosedWaiters).then(() => undefined);
  }

  onNewConnection(): FilterStatus {
    this.resetIdleTimer();
    if (this.mode === "IMMEDIATE") {
      this.route = this.pickRoute();
      return this.establishUpstreamConnection();
    }
    if (!this.cfg.delayRouteSelection) this.route = this.pickRoute();
    this.record.events.push("upstream_connect_delayed");
    return this.receiveBeforeConnect ? "Continue" : "StopIteration";
  }

  onData(buffer: DataBuffer, endStream: boolean): FilterStatus {
    const up = this.upstream;
    if (up !== undefined) {
      const bytes = buffer.bytes;
      buffer.bytes = EMPTY;
      this.writeUpstream(up, bytes, endStream);
      this.resetIdleTimer();
    } else if (this.receiveBeforeConnect) {
      const bytes = buffer.bytes;
      buffer.bytes = EMPTY;
      if (bytes.length > 0) this.early = this.early.length === 0 ? bytes : concat(this.early, bytes);
      if (!this.earlyEnd) this.earlyEnd = endStream;
      if (!this.initialDataReceived && !(endStream && this.early.length === 0)) {
        this.initialDataReceived = true;
        if (this.mode === "ON_DOWNSTREAM_DATA") {
          this.record.events.push(`initial_data ${this.early.length}`);
          if (this.cfg.delayRouteSelection) this.route = this.pickRoute();
          this.establishUpstreamConnection();
        }
      }
      if (this.manager.state === "Open" && this.early.length >= this.maxBuffered && !this.readDisabledDueToBuffer) {
        this.manager.readDisable(true);
        this.readDisabledDueToBuffer = true;
      }
      this.ctx.stats.inc(`${this.prefix}.early_data_received_count_total`);
    }
    // Without upstream and without early data the bytes stay in the read buffer (Envoy ASSERTs).
    return "StopIteration";
  }

  onWrite(): FilterStatus {
    return "Continue";
  }

  /** Downstream connection event (Filter::onDownstreamEvent). */
  onEvent(event: ConnectionEvent): void {
    this.downstreamClosed = true;
    this.clearTimers();
    if (this.cancelConnect !== undefined) {
      this.cancelConnect();
      this.cancelConnect = undefined;
      this.connecting = false;
    }
    const up = this.upstream;
    if (up !== undefined) {
      this.upstream = undefined;
      if (event === "RemoteClose") up.end(() => up.destroy());
      else up.destroy();
    }
  }

  /** Downstream write buffer above / below its watermark: pause / resume upstream reads. */
  readDisableUpstream(disable: boolean): void {
    const up = this.upstream;
    if (up === undefined || this.upstreamReadDisabled === disable) return;
    this.upstreamReadDisabled = disable;
    if (disable) up.pause();
    else up.resume();
  }

  private pickRoute(): string | undefined {
    const entry = this.manager.info.filterState.get(PER_CONNECTION_CLUSTER);
    if (entry !== undefined) return decoder.decode(entry.value);
    return this.cfg.cluster;
  }

  private establishUpstreamConnection(): FilterStatus {
    const name = this.route ?? "";
    const info = this.manager.info;
    const cluster = resolveCluster(this.ctx.host, name, info.destination);
    if (cluster === undefined) {
      this.ctx.stats.inc(`${this.prefix}.downstream_cx_no_route`);
      this.record.responseFlags.push("NC");
      this.onInitFailure(`no cluster ${JSON.stringify(name)}`);
      return "StopIteration";
    }
    info.upstreamCluster = name;
    this.record.upstreamCluster = name;
    const ep = chooseEndpoint(cluster.config);
    if (ep === undefined) {
      this.ctx.stats.inc(`cluster.${name}.upstream_cx_none_healthy`);
      this.record.responseFlags.push("UH");
      this.onInitFailure(`cluster ${name} has no endpoints`);
      return "StopIteration";
    }
    this.connecting = true;
    this.connectAttempts++;
    this.ctx.stats.inc(`cluster.${name}.upstream_cx_total`);
    this.record.events.push(`upstream_connecting ${name} ${ep.host}:${ep.port}`);
    this.cancelConnect = connectUpstream(
      ep,
      cluster.config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      {
        onConnected: (s) => {
          this.cancelConnect = undefined;
          this.onPoolReady(s, name);
        },
        onFailure: (reason, detail) => {
          this.cancelConnect = undefined;
          this.ctx.stats.inc(`cluster.${name}.upstream_cx_connect_fail`);
          if (reason === "Timeout") this.ctx.stats.inc(`cluster.${name}.upstream_cx_connect_timeout`);
          this.record.events.push(`upstream_connect_failed ${reason} ${detail}`);
          this.onUpstreamEvent(reason === "RemoteConnectionFailure" ? "RemoteClose" : "LocalClose", false);
        },
      },
      (s) => {
        this.upstreamClosedWaiters.push(track(this.ctx, s));
      },
    );
    return "StopIteration";
  }

  private onPoolReady(s: net.Socket, cluster: string): void {
    if (this.downstreamClosed) {
      s.destroy();
      return;
    }
    this.upstream = s;
    const addr: Address = { host: s.remoteAddress ?? "", port: s.remotePort ?? 0 };
    this.manager.info.upstreamAddress = addr;
    this.record.upstreamAddress = addr;
    this.record.upstreamConnected = true;
    this.record.events.push(`upstream_connected ${cluster}`);
    s.on("data", (chunk: Buffer) => this.onUpstreamData(chunk));
    s.on("end", () => this.onUpstreamData(EMPTY, true));
    let reset = false;
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET") reset = true;
    });
    s.once("close", () => {
      if (this.upstream === s) {
        this.upstream = undefined;
        this.record.events.push(reset ? "upstream_reset" : "upstream_closed");
        this.onUpstreamEvent("RemoteClose", reset);
      }
    });
    this.onUpstreamConnection();
    this.cb.continueReading();
  }

  private onUpstreamConnection(): void {
    this.connecting = false;
    const up = this.upstream!;
    if (this.early.length > 0 || this.earlyEnd) {
      const bytes = this.early;
      this.early = EMPTY;
      this.writeUpstream(up, bytes, this.earlyEnd);
    }
    if (this.readDisabledDueToBuffer) {
      this.readDisabledDueToBuffer = false;
      this.manager.readDisable(false);
    } else if (!this.receiveBeforeConnect) {
      this.manager.readDisable(false);
    }
    this.resetIdleTimer();
  }

  private onUpstreamData(chunk: Uint8Array, endStream = false): void {
    this.record.bytesFromUpstream += chunk.length;
    this.resetIdleTimer();
    this.manager.write(chunk, endStream);
  }

  private writeUpstream(up: net.Socket, bytes: Uint8Array, endStream: boolean): void {
    if (bytes.length > 0) {
      this.record.bytesToUpstream += bytes.length;
      if (!up.write(bytes) && !this.upstreamAboveHigh) {
        this.upstreamAboveHigh = true;
        this.ctx.stats.inc(`${this.prefix}.downstream_flow_control_paused_reading_total`);
        this.manager.readDisable(true);
        up.once("drain", () => {
          this.upstreamAboveHigh = false;
          this.ctx.stats.inc(`${this.prefix}.downstream_flow_control_resumed_reading_total`);
          this.manager.readDisable(false);
        });
      }
    }
    if (endStream && !this.upstreamWriteEnded) {
      this.upstreamWriteEnded = true;
      up.end();
    }
  }

  /** Filter::onUpstreamEvent for close events. */
  private onUpstreamEvent(event: ConnectionEvent, reset: boolean): void {
    const connecting = this.connecting;
    this.connecting = false;
    this.clearIdleTimer();
    if (connecting) {
      if (event === "RemoteClose") this.record.responseFlags.push("UF");
      if (!this.downstreamClosed) {
        if (this.connectAttempts >= (this.cfg.maxConnectAttempts ?? 1)) {
          this.onConnectMaxAttempts();
          return;
        }
        // Envoy always retries on a later event-loop iteration (retry timer).
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.route = this.pickRoute();
          this.establishUpstreamConnection();
        }, 0);
      }
      return;
    }
    if (this.manager.state === "Open") {
      if (reset) {
        this.record.responseFlags.push("UR");
        this.manager.close("AbortReset");
      } else {
        this.manager.close("FlushWrite");
      }
    }
  }

  private onConnectMaxAttempts(): void {
    this.record.responseFlags.push("URX");
    if (this.route !== undefined) this.ctx.stats.inc(`cluster.${this.route}.upstream_cx_connect_attempts_exceeded`);
    this.onInitFailure("connect attempts exhausted");
  }

  private onInitFailure(reason: string): void {
    this.record.events.push(`init_failure ${reason}`);
    this.manager.close("NoFlush");
  }

  private resetIdleTimer(): void {
    const ms = this.cfg.idleTimeoutMs ?? 3_600_000;
    if (ms <= 0 || this.downstreamClosed) return;
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.ctx.stats.inc(`${this.prefix}.idle_timeout`);
        this.record.events.push("idle_timeout");
        this.manager.close("NoFlush");
      }, ms);
    } else {
      this.idleTimer.refresh();
    }
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private clearTimers(): void {
    this.clearIdleTimer();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

type MutableRecord = {
  -readonly [K in keyof TcpConnectionRecord]: TcpConnectionRecord[K];
};

/** The downstream socket as Envoy's ConnectionImpl (half-close enabled by tcp_proxy). */
class DownstreamSocket implements Transport {
  manager!: NetworkFilterManager;
  proxy: TcpProxyFilter | undefined;
  private aboveHigh = false;
  private readEnded = false;
  private writeEnded = false;
  private reset = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly record: MutableRecord,
  ) {}

  start(): void {
    const s = this.socket;
    const m = this.manager;
    s.on("data", (chunk: Buffer) => {
      this.record.bytesFromDownstream += chunk.length;
      m.onRead(chunk, false);
    });
    s.on("end", () => {
      this.readEnded = true;
      m.onRead(EMPTY, true);
      // ConnectionImpl::onReadReady: both sides half-closed → RemoteClose.
      if (this.writeEnded) this.closeFromPeer();
    });
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") this.reset = true;
    });
    s.once("close", () => {
      this.record.events.push(this.reset ? "downstream_reset" : "downstream_socket_closed");
      if (m.state === "Open") m.remoteClose();
    });
    if (!m.readDisabled) s.resume();
  }

  private closeFromPeer(): void {
    if (this.manager.state === "Open") this.manager.remoteClose();
  }

  rawWrite(bytes: Uint8Array, endStream: boolean): void {
    const s = this.socket;
    if (bytes.length > 0) {
      this.record.bytesToDownstream += bytes.length;
      if (!s.write(bytes) && !this.aboveHigh) {
        this.aboveHigh = true;
        this.proxy?.readDisableUpstream(true);
        s.once("drain", () => {
          this.aboveHigh = false;
          this.proxy?.readDisableUpstream(false);
        });
      }
    }
    if (endStream && !this.writeEnded) {
      this.writeEnded = true;
      s.end(() => {
        // ConnectionImpl::onWriteReady: write end flushed and read end seen → LocalClose.
        if (this.readEnded && this.manager.state === "Open") this.manager.close("NoFlush");
      });
    }
  }

  readDisabledChanged(disabled: boolean): void {
    this.record.events.push(disabled ? "read_disabled" : "read_enabled");
    if (disabled) this.socket.pause();
    else this.socket.resume();
  }

  scheduleBufferedRead(): void {
    setImmediate(() => this.manager.dispatchBufferedRead());
  }

  closeSocket(type: CloseType): void {
    const s = this.socket;
    this.record.events.push(`close ${type}`);
    if (type === "AbortReset") s.resetAndDestroy();
    else if (type === "NoFlush") s.destroy();
    else if (s.writableEnded) s.destroy();
    else s.end(() => s.destroy());
  }
}

export interface ListenerClosedRecord {
  readonly source: Address;
  readonly destination: Address;
  readonly reason: "timeout" | "remote_close" | "filter_close" | "error" | "no_filter_chain_match";
}

export interface TcpListener {
  readonly port: number;
  /** Local port that acts as an iptables REDIRECT target for `dst` (the original destination). */
  redirect(dst: Address): Promise<number>;
  readonly connections: ReadonlyArray<TcpConnectionRecord>;
  /** Sockets closed before any filter chain ran (listener-filter timeout, no chain match, …). */
  readonly listenerClosed: ReadonlyArray<ListenerClosedRecord>;
  readonly stats: Stats;
  close(): Promise<void>;
}

export async function startTcpListener(host: DataPlaneHost, opts: TcpListenerOptions): Promise<TcpListener> {
  for (const chain of [...opts.filterChains, ...(opts.defaultFilterChain ? [opts.defaultFilterChain] : [])]) {
    const mode = chain.tcpProxy.upstreamConnectMode ?? "IMMEDIATE";
    if (mode !== "IMMEDIATE" && chain.tcpProxy.maxEarlyDataBytes === undefined) {
      // Envoy rejects the listener the same way (tcp_proxy Config constructor).
      throw new Error(
        `filter chain ${JSON.stringify(chain.name ?? "")}: max_early_data_bytes must be set when upstream_connect_mode is ${mode} (not IMMEDIATE)`,
      );
    }
  }
  checkDistinctMatches(opts.filterChains);
  for (const f of opts.listenerFilters ?? []) {
    if (f !== "tls_inspector" && f !== "http_inspector") {
      throw new Error(`unknown listener filter ${JSON.stringify(f)}: valid are tls_inspector, http_inspector`);
    }
  }
  const bindHost = opts.bindHost ?? "127.0.0.1";
  const stats = new Stats();
  const ctx: ListenerContext = {
    host,
    stats,
    sockets: new Set(),
    direction: opts.direction ?? "UNSPECIFIED",
  };
  const connections: TcpConnectionRecord[] = [];
  const listenerClosed: ListenerClosedRecord[] = [];
  const servers: net.Server[] = [];

  const onConnection = (socket: net.Socket, originalDst: () => Address): void => {
    socket.pause();
    socket.setNoDelay(true);
    const downClosed = track(ctx, socket);
    const source: Address = { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    const destination = originalDst();
    runListenerFilters(socket, opts, stats, (outcome) => {
      if (outcome.kind === "Closed") {
        listenerClosed.push({ source, destination, reason: outcome.reason });
        return;
      }
      const detected = outcome.facts;
      newConnection(socket, downClosed, {
        source,
        destination,
        requestedServerName: detected.requestedServerName,
        applicationProtocols: detected.applicationProtocols,
        transportProtocol: detected.transportProtocol,
      }, outcome.timedOut);
    });
  };

  /** ActiveTcpListener::newConnection: pick the chain, build the network filters. */
  const newConnection = (socket: net.Socket, downClosed: Promise<void>, facts: ConnectionFacts, timedOut: boolean): void => {
    const chain = pickFilterChain(opts.filterChains, facts, opts.defaultFilterChain);
    if (chain === undefined) {
      // Envoy: "closing connection from …: no matching filter chain found".
      stats.inc("listener.no_filter_chain_match");
      listenerClosed.push({ source: facts.source, destination: facts.destination, reason: "no_filter_chain_match" });
      socket.destroy();
      return;
    }
    const info: ConnectionInfo = {
      id: host.nextConnectionId(),
      source: facts.source,
      destination: facts.destination,
      requestedServerName: facts.requestedServerName,
      listenerDirection: ctx.direction,
      filterState: new FilterState(),
      filterChainName: chain.name ?? "",
    };
    let proxy: TcpProxyFilter | undefined;
    let manager: NetworkFilterManager | undefined;
    const record: MutableRecord = {
      id: info.id,
      info,
      filterChainName: info.filterChainName,
      transportProtocol: facts.transportProtocol ?? "raw_buffer",
      applicationProtocols: [...facts.applicationProtocols],
      listenerFiltersTimedOut: timedOut,
      upstreamConnected: false,
      bytesFromDownstream: 0,
      bytesToDownstream: 0,
      bytesToUpstream: 0,
      bytesFromUpstream: 0,
      responseFlags: [],
      events: [],
      get readDisabled() {
        return manager?.readDisabled ?? false;
      },
      closed: downClosed.then(() => proxy?.upstreamsClosed()),
    };
    connections.push(record);
    stats.inc("listener.downstream_cx_total");
    const transport = new DownstreamSocket(socket, record);
    manager = new NetworkFilterManager(info, transport);
    transport.manager = manager;
    try {
      for (const f of chain.filters) manager.addFilter(toNetworkFactory(f));
      manager.addReadFilter((cb) => {
        if (chain.terminal !== undefined) return chain.terminal(cb);
        proxy = new TcpProxyFilter(cb, chain.tcpProxy, ctx, record);
        return proxy;
      });
    } catch (err) {
      record.events.push(`filter_chain_error ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    transport.proxy = proxy;
    manager.initializeReadFilters();
    transport.start();
  };

  const listen = (originalDst: (() => Address) | undefined): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
        onConnection(s, originalDst ?? (() => ({ host: s.localAddress ?? bindHost, port: s.localPort ?? 0 })));
      });
      server.once("error", reject);
      server.listen(0, bindHost, () => {
        server.off("error", reject);
        servers.push(server);
        resolve(server);
      });
    });

  const main = await listen(opts.originalDst === undefined ? undefined : () => opts.originalDst!);
  const port = (main.address() as net.AddressInfo).port;

  return {
    port,
    connections,
    listenerClosed,
    stats,
    async redirect(dst: Address): Promise<number> {
      const s = await listen(() => dst);
      return (s.address() as net.AddressInfo).port;
    },
    async close(): Promise<void> {
      const closing = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const s of ctx.sockets) s.destroy();
      await Promise.all(closing);
      await Promise.all(connections.map((c) => c.closed));
    },
  };
}
