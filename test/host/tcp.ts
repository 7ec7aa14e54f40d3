/**
 * A real TCP data plane: listener → filter chain (network filters + tcp_proxy) → cluster.
 *
 * tcp_proxy is copied from envoyproxy/envoy source/common/tcp_proxy/tcp_proxy.cc (Envoy 1.37,
 * `upstream_connect_mode` / `max_early_data_bytes` from PR #41696; what later releases change is
 * in envoy-version.ts and applied by `validateTcpListenerOptions` and the filter):
 * - `Config::Config`: refuses a connect mode that needs `max_early_data_bytes` without it (1.37:
 *   ON_DOWNSTREAM_DATA; 1.38+: every mode but IMMEDIATE); the proto bounds it `lte: 1048576`.
 *   `weighted_clusters` is used only when `cluster` is absent (they are one oneof).
 * - `Filter::initialize` (at filter creation, before any onNewConnection): enables half-close
 *   and, unless `max_early_data_bytes` is set (`receive_before_connect_`), `readDisable(true)`.
 *   Set, reads stay enabled in every connect mode, IMMEDIATE included. Unset, in IMMEDIATE mode a
 *   filter in front that returns StopIteration from onNewConnection waiting for data never gets
 *   any: deadlock (envoy#25604).
 * - `Filter::onNewConnection` runs only once the filters before it continued
 *   (source/common/network/filter_manager_impl.cc, `onContinueReading`). It picks the route
 *   (`pickRoute` → `Config::getRouteFromEntries`: filter state `envoy.tcp_proxy.cluster`, else
 *   `cluster`; with `weighted_clusters` a weighted draw that never reads filter state). IMMEDIATE
 *   connects now. ON_DOWNSTREAM_DATA also picks the route here ("Pre-pick the route") and
 *   connects from `onData` on the first bytes; `onData` is never called on an empty buffer, so a
 *   server-first client that sends nothing is never connected. The runtime guard
 *   `envoy.reloadable_features.tcp_proxy_delay_route_selection` (PR #44109, Envoy 1.39, off by
 *   default) moves the pick to connect time: option `delayRouteSelection`.
 * - `establishUpstreamConnection` answers Continue when reading early (the chain's buffered
 *   bytes go on to `onData`, into early data), else StopIteration.
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
import { envoyBehaviour, type EnvoyBehaviour, type UpstreamConnectMode } from "./envoy-version.js";
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

export type { UpstreamConnectMode };

/** One entry of `TcpProxy.weighted_clusters.clusters`. */
export interface WeightedCluster {
  readonly name: string;
  readonly weight: number;
}

export interface TcpProxyConfig {
  /** Default cluster; filter state `envoy.tcp_proxy.cluster` overrides it per connection. */
  readonly cluster?: string;
  /**
   * `weighted_clusters` (Envoy's oneof with `cluster`; Istio renders it for a TCP route with
   * several destinations): a weighted random pick per connection that ignores filter state
   * `envoy.tcp_proxy.cluster`.
   */
  readonly weightedClusters?: ReadonlyArray<WeightedCluster>;
  /** @default "IMMEDIATE" */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /**
   * Set (0 included): reads stay enabled before the upstream exists, in every connect mode, and
   * up to this many bytes are held meanwhile. Envoy's proto: `lte: 1048576`.
   */
  readonly maxEarlyDataBytes?: number;
  /** @default 3_600_000 (Envoy's 1 h); 0 disables. */
  readonly idleTimeoutMs?: number;
  /** @default 1 */
  readonly maxConnectAttempts?: number;
  /** @default "tcp" — stats are `tcp.<statPrefix>.*`. */
  readonly statPrefix?: string;
  /**
   * The runtime guard `envoy.reloadable_features.tcp_proxy_delay_route_selection` (Envoy ≥ 1.39,
   * false by default): pick the route when connecting, not on new connection. Refused on a host
   * acting as an older Envoy, which has no such guard.
   * @default false
   */
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
  /** tcp_proxy's lifecycle states in order (TcpProxyState), starting with `Initialized`. */
  readonly proxyStates: string[];
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

/**
 * tcp_proxy's connection lifecycle, one state at a time. Envoy's Filter spreads the same facts
 * over `connecting_`, `generic_conn_pool_`, `upstream_`, `initial_data_received_` and
 * `downstream_closed_`; here each transition is one assignment in `enter`, logged by name in the
 * record's `proxyStates`.
 *
 *   Initialized ──onNewConnection──▶ AwaitingData (ON_DOWNSTREAM_DATA: route pre-picked)
 *        │                               │ first downstream bytes
 *        └──── IMMEDIATE ──────────▶ Connecting ◀──retry timer── RetryPending
 *                                        │  └── attempt failed, attempts left ──▶ RetryPending
 *                                        ▼
 *                                    Connected ──upstream or downstream close──▶ Closed
 *   (any state) ──downstream close, no route, no endpoint, attempts exhausted──▶ Closed
 */
export type TcpProxyState = "Initialized" | "AwaitingData" | "Connecting" | "RetryPending" | "Connected" | "Closed";

/** Downstream bytes held before the upstream exists (`early_data_buffer_`, Envoy ≥ 1.37). */
class EarlyData {
  bytes: Uint8Array = EMPTY;
  endStream = false;
  /** Reads were disabled because the buffer reached max_early_data_bytes (`read_disabled_due_to_buffer_`). */
  readDisabledByLimit = false;

  append(bytes: Uint8Array, endStream: boolean): void {
    if (bytes.length > 0) this.bytes = this.bytes.length === 0 ? bytes : concat(this.bytes, bytes);
    this.endStream ||= endStream;
  }

  take(): { bytes: Uint8Array; endStream: boolean } {
    const out = { bytes: this.bytes, endStream: this.endStream };
    this.bytes = EMPTY;
    return out;
  }
}

/** The upstream socket with the flow-control facts tcp_proxy keeps about it. */
class UpstreamSocket {
  /** Its write buffer is above the high watermark: downstream reads are disabled meanwhile. */
  private aboveHigh = false;
  private readPaused = false;
  private writeEnded = false;

  constructor(
    readonly socket: net.Socket,
    private readonly onHigh: () => void,
    private readonly onLow: () => void,
  ) {}

  write(bytes: Uint8Array, endStream: boolean): void {
    const s = this.socket;
    if (bytes.length > 0 && !s.write(bytes) && !this.aboveHigh) {
      this.aboveHigh = true;
      this.onHigh();
      s.once("drain", () => {
        this.aboveHigh = false;
        this.onLow();
      });
    }
    if (endStream && !this.writeEnded) {
      this.writeEnded = true;
      s.end();
    }
  }

  readDisable(disable: boolean): void {
    if (this.readPaused === disable) return;
    this.readPaused = disable;
    if (disable) this.socket.pause();
    else this.socket.resume();
  }
}

/** Envoy TcpProxy::Filter, driving a node socket as its upstream. */
export class TcpProxyFilter implements NetworkFilter {
  private readonly manager: NetworkFilterManager;
  private readonly mode: UpstreamConnectMode;
  /** `max_early_data_bytes` is set: reads stay enabled before the upstream exists (`receive_before_connect_`). */
  private readonly receiveBeforeConnect: boolean;
  private readonly prefix: string;
  private state: TcpProxyState = "Initialized";
  private route: string | undefined;
  private upstream: UpstreamSocket | undefined;
  private cancelConnect: (() => void) | undefined;
  private connectAttempts = 0;
  private readonly early = new EarlyData();
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
    // Filter::initialize: ON_DOWNSTREAM_TLS_HANDSHAKE on a connection without TLS behaves as
    // IMMEDIATE, and the emulator's downstream connections never terminate TLS.
    const mode = cfg.upstreamConnectMode ?? "IMMEDIATE";
    this.mode = mode === "ON_DOWNSTREAM_TLS_HANDSHAKE" ? "IMMEDIATE" : mode;
    this.receiveBeforeConnect = cfg.maxEarlyDataBytes !== undefined;
    this.manager.addConnectionCallbacks(this);
    // Filter::initialize reads early in every connect mode once max_early_data_bytes is set;
    // without it reads wait for the upstream (envoy#25604 when a filter in front waits for data).
    if (!this.receiveBeforeConnect) this.manager.readDisable(true);
    ctx.stats.inc(`${this.prefix}.downstream_cx_total`);
    record.proxyStates.push(this.state);
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
    // ON_DOWNSTREAM_DATA: "Pre-pick the route", unless the delayed-selection guard is on.
    if (!this.cfg.delayRouteSelection) this.route = this.pickRoute();
    this.enter("AwaitingData");
    this.record.events.push("upstream_connect_delayed");
    return this.receiveBeforeConnect ? "Continue" : "StopIteration";
  }

  onData(buffer: DataBuffer, endStream: boolean): FilterStatus {
    const bytes = buffer.bytes;
    if (this.state === "Connected") {
      buffer.bytes = EMPTY;
      this.writeUpstream(bytes, endStream);
      this.resetIdleTimer();
    } else if (this.receiveBeforeConnect) {
      buffer.bytes = EMPTY;
      this.early.append(bytes, endStream);
      // A close without any byte is no "initial data".
      if (this.state === "AwaitingData" && !(endStream && this.early.bytes.length === 0)) {
        this.record.events.push(`initial_data ${this.early.bytes.length}`);
        if (this.cfg.delayRouteSelection) this.route = this.pickRoute();
        this.establishUpstreamConnection();
      }
      if (this.manager.state === "Open" && this.early.bytes.length >= (this.cfg.maxEarlyDataBytes ?? 0) && !this.early.readDisabledByLimit) {
        this.manager.readDisable(true);
        this.early.readDisabledByLimit = true;
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
    const up = this.upstream;
    this.upstream = undefined;
    this.enter("Closed");
    this.clearTimers();
    this.cancelConnect?.();
    this.cancelConnect = undefined;
    if (up === undefined) return;
    // TcpUpstream::onDownstreamEvent: RemoteClose flushes, LocalClose does not.
    if (event === "RemoteClose") up.socket.end(() => up.socket.destroy());
    else up.socket.destroy();
  }

  /** Downstream write buffer above / below its watermark: pause / resume upstream reads. */
  readDisableUpstream(disable: boolean): void {
    this.upstream?.readDisable(disable);
  }

  private enter(next: TcpProxyState): void {
    if (this.state === next) return;
    this.state = next;
    this.record.proxyStates.push(next);
  }

  /**
   * Config::getRouteFromEntries: with `weighted_clusters` (and no `cluster`) a weighted random
   * pick that never reads filter state; otherwise `envoy.tcp_proxy.cluster`, else `cluster`.
   */
  private pickRoute(): string | undefined {
    const weighted = this.cfg.weightedClusters;
    if (this.cfg.cluster === undefined && weighted !== undefined && weighted.length > 0) return pickWeighted(weighted);
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
    this.enter("Connecting");
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
          this.onConnectFailure(reason === "RemoteConnectionFailure" ? "RemoteClose" : "LocalClose");
        },
      },
      (s) => {
        this.upstreamClosedWaiters.push(track(this.ctx, s));
      },
    );
    // Filter::establishUpstreamConnection: Continue lets a filter chain that reads early hand
    // its buffered bytes on (to onData, into early data); otherwise wait for the upstream.
    return this.receiveBeforeConnect ? "Continue" : "StopIteration";
  }

  private onPoolReady(s: net.Socket, cluster: string): void {
    if (this.state === "Closed") {
      s.destroy();
      return;
    }
    const up = new UpstreamSocket(
      s,
      () => {
        this.ctx.stats.inc(`${this.prefix}.downstream_flow_control_paused_reading_total`);
        this.manager.readDisable(true);
      },
      () => {
        this.ctx.stats.inc(`${this.prefix}.downstream_flow_control_resumed_reading_total`);
        this.manager.readDisable(false);
      },
    );
    this.upstream = up;
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
      if (this.upstream !== up) return;
      this.upstream = undefined;
      this.record.events.push(reset ? "upstream_reset" : "upstream_closed");
      this.onUpstreamClosed(reset);
    });
    this.onUpstreamConnection();
    this.cb.continueReading();
  }

  /** Filter::onUpstreamConnection: flush early data, re-enable reads. */
  private onUpstreamConnection(): void {
    this.enter("Connected");
    const early = this.early.take();
    if (early.bytes.length > 0 || early.endStream) this.writeUpstream(early.bytes, early.endStream);
    if (this.early.readDisabledByLimit) {
      this.early.readDisabledByLimit = false;
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

  private writeUpstream(bytes: Uint8Array, endStream: boolean): void {
    this.record.bytesToUpstream += bytes.length;
    this.upstream!.write(bytes, endStream);
  }

  /** Filter::onUpstreamEvent while connecting: retry, or give up after max_connect_attempts. */
  private onConnectFailure(event: ConnectionEvent): void {
    this.clearIdleTimer();
    if (event === "RemoteClose") this.record.responseFlags.push("UF");
    if (this.state === "Closed") return;
    if (this.connectAttempts >= (this.cfg.maxConnectAttempts ?? 1)) {
      this.record.responseFlags.push("URX");
      if (this.route !== undefined) this.ctx.stats.inc(`cluster.${this.route}.upstream_cx_connect_attempts_exceeded`);
      this.onInitFailure("connect attempts exhausted");
      return;
    }
    // Envoy always retries on a later event-loop iteration (retry timer).
    this.enter("RetryPending");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.route = this.pickRoute();
      this.establishUpstreamConnection();
    }, 0);
  }

  /**
   * Filter::onUpstreamEvent once connected: an upstream close closes the downstream after
   * flushing; an upstream RST resets it (runtime feature
   * `propagate_upstream_rst_through_tunneled_tcp_proxy`).
   */
  private onUpstreamClosed(reset: boolean): void {
    this.clearIdleTimer();
    this.enter("Closed");
    if (this.manager.state !== "Open") return;
    if (reset) {
      this.record.responseFlags.push("UR");
      this.manager.close("AbortReset");
    } else {
      this.manager.close("FlushWrite");
    }
  }

  private onInitFailure(reason: string): void {
    this.enter("Closed");
    this.record.events.push(`init_failure ${reason}`);
    this.manager.close("NoFlush");
  }

  private resetIdleTimer(): void {
    const ms = this.cfg.idleTimeoutMs ?? 3_600_000;
    if (ms <= 0 || this.state === "Closed") return;
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

/** WeightedClusterUtil::pickCluster: a uniform draw over the summed weights. */
function pickWeighted(clusters: ReadonlyArray<WeightedCluster>): string | undefined {
  const total = clusters.reduce((a, c) => a + c.weight, 0);
  let draw = Math.floor(Math.random() * total);
  for (const c of clusters) {
    if (draw < c.weight) return c.name;
    draw -= c.weight;
  }
  return undefined;
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

/** Envoy's own config checks on a listener, before it accepts anything; throws as Envoy refuses it. */
export function validateTcpListenerOptions(opts: TcpListenerOptions, envoy: EnvoyBehaviour): void {
  const chains = [...opts.filterChains, ...(opts.defaultFilterChain ? [opts.defaultFilterChain] : [])];
  for (const chain of chains) validateTcpProxy(chain, envoy);
  checkDistinctMatches(opts.filterChains);
  for (const f of opts.listenerFilters ?? []) {
    if (f !== "tls_inspector" && f !== "http_inspector") {
      throw new Error(`unknown listener filter ${JSON.stringify(f)}: valid are tls_inspector, http_inspector`);
    }
  }
}

/** Envoy 1.37 api tcp_proxy.proto: `max_early_data_bytes` `[(validate.rules).uint32 = {lte: 1048576}]`. */
export const MAX_EARLY_DATA_BYTES_LIMIT = 1_048_576;

function validateTcpProxy(chain: TcpFilterChain, envoy: EnvoyBehaviour): void {
  const where = `filter chain ${JSON.stringify(chain.name ?? "")}`;
  const cfg = chain.tcpProxy;
  const mode = cfg.upstreamConnectMode ?? "IMMEDIATE";
  // tcp_proxy Config constructor; which modes it checks depends on the release (envoy-version.ts).
  if (envoy.earlyDataRequiredFor.includes(mode) && cfg.maxEarlyDataBytes === undefined) {
    const rule = envoy.earlyDataRequiredFor.length > 1 ? "is not IMMEDIATE" : `is ${mode}`;
    throw new Error(`${where}: max_early_data_bytes must be set when upstream_connect_mode ${rule} (Envoy ${envoy.version}, got ${mode})`);
  }
  const early = cfg.maxEarlyDataBytes;
  if (early !== undefined && (!Number.isInteger(early) || early < 0 || early > MAX_EARLY_DATA_BYTES_LIMIT)) {
    throw new Error(`${where}: max_early_data_bytes ${early} violates Envoy's validate rule uint32 lte ${MAX_EARLY_DATA_BYTES_LIMIT}`);
  }
  if (cfg.delayRouteSelection === true && !envoy.hasDelayRouteSelectionGuard) {
    throw new Error(`${where}: delayRouteSelection is the runtime guard tcp_proxy_delay_route_selection, which Envoy ${envoy.version} does not have (from 1.39)`);
  }
  if (cfg.weightedClusters !== undefined && cfg.cluster !== undefined) {
    throw new Error(`${where}: cluster and weighted_clusters are one oneof (cluster_specifier); set one`);
  }
  for (const w of cfg.weightedClusters ?? []) {
    if (w.name === "" || !Number.isInteger(w.weight) || w.weight < 1) {
      throw new Error(`${where}: weighted cluster ${JSON.stringify(w)} needs a name and a weight >= 1`);
    }
  }
}

/** One listener: its sockets, records and stats, and Envoy's accept path. */
class ListenerRuntime {
  readonly stats = new Stats();
  readonly connections: TcpConnectionRecord[] = [];
  readonly listenerClosed: ListenerClosedRecord[] = [];
  readonly servers: net.Server[] = [];
  private readonly ctx: ListenerContext;
  private readonly bindHost: string;

  constructor(
    private readonly host: DataPlaneHost,
    private readonly opts: TcpListenerOptions,
    private readonly envoy: EnvoyBehaviour,
  ) {
    this.bindHost = opts.bindHost ?? "127.0.0.1";
    this.ctx = { host, stats: this.stats, sockets: new Set(), direction: opts.direction ?? "UNSPECIFIED" };
  }

  /** A port whose connections report `originalDst` (the listener's own address when undefined). */
  listen(originalDst: Address | undefined): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
        this.onAccept(s, originalDst ?? { host: s.localAddress ?? this.bindHost, port: s.localPort ?? 0 });
      });
      server.once("error", reject);
      server.listen(0, this.bindHost, () => {
        server.off("error", reject);
        this.servers.push(server);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.ctx.sockets) s.destroy();
    await Promise.all(closing);
    await Promise.all(this.connections.map((c) => c.closed));
  }

  /** ActiveTcpSocket: the listener filters, then the filter chain. */
  private onAccept(socket: net.Socket, destination: Address): void {
    socket.pause();
    socket.setNoDelay(true);
    const downClosed = track(this.ctx, socket);
    const source: Address = { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    runListenerFilters(socket, this.opts, this.envoy.httpInspectorParser, this.stats, (outcome) => {
      if (outcome.kind === "Closed") {
        this.listenerClosed.push({ source, destination, reason: outcome.reason });
        return;
      }
      const detected = outcome.facts;
      const facts: ConnectionFacts = {
        source,
        destination,
        requestedServerName: detected.requestedServerName,
        applicationProtocols: detected.applicationProtocols,
        transportProtocol: detected.transportProtocol,
      };
      this.newConnection(socket, downClosed, facts, outcome.timedOut);
    });
  }

  /** ActiveTcpListener::newConnection: pick the chain, build the network filters. */
  private newConnection(socket: net.Socket, downClosed: Promise<void>, facts: ConnectionFacts, timedOut: boolean): void {
    const chain = pickFilterChain(this.opts.filterChains, facts, this.opts.defaultFilterChain);
    if (chain === undefined) {
      // Envoy: "closing connection from …: no matching filter chain found".
      this.stats.inc("listener.no_filter_chain_match");
      this.listenerClosed.push({ source: facts.source, destination: facts.destination, reason: "no_filter_chain_match" });
      socket.destroy();
      return;
    }
    const info: ConnectionInfo = {
      id: this.host.nextConnectionId(),
      source: facts.source,
      destination: facts.destination,
      requestedServerName: facts.requestedServerName,
      listenerDirection: this.ctx.direction,
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
      proxyStates: [],
      get readDisabled() {
        return manager?.readDisabled ?? false;
      },
      closed: downClosed.then(() => proxy?.upstreamsClosed()),
    };
    this.connections.push(record);
    this.stats.inc("listener.downstream_cx_total");
    const transport = new DownstreamSocket(socket, record);
    manager = new NetworkFilterManager(info, transport);
    transport.manager = manager;
    try {
      for (const f of chain.filters) manager.addFilter(toNetworkFactory(f));
      manager.addReadFilter((cb) => {
        proxy = new TcpProxyFilter(cb, chain.tcpProxy, this.ctx, record);
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
  }
}

/**
 * Starts a listener on a random loopback port, acting as the host's Envoy release
 * (`host.envoyVersion`, envoy-version.ts). Rejects a configuration Envoy would refuse.
 */
export async function startTcpListener(host: DataPlaneHost, opts: TcpListenerOptions): Promise<TcpListener> {
  const envoy = envoyBehaviour(host.envoyVersion);
  validateTcpListenerOptions(opts, envoy);
  const runtime = new ListenerRuntime(host, opts, envoy);
  const port = await runtime.listen(opts.originalDst);
  return {
    port,
    connections: runtime.connections,
    listenerClosed: runtime.listenerClosed,
    stats: runtime.stats,
    redirect: (dst: Address) => runtime.listen(dst),
    close: () => runtime.close(),
  };
}
