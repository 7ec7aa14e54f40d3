/**
 * The seam between the host core (wasm VMs, ABI host functions) and the data planes
 * (listeners, network filter manager, tcp_proxy, HTTP connection manager).
 *
 * Modelled on Envoy's own interfaces (envoy/network/filter.h, envoy/http/filter.h) so that the
 * data planes can copy Envoy's filter-manager behaviour and the core can copy
 * source/extensions/common/wasm/context.cc without either knowing how the other is built.
 */
import type { EnvoyVersion } from "./envoy-version.js";
import type { CoreResponseFlag } from "./response-flags.js";

export interface Address {
  readonly host: string;
  readonly port: number;
}

export type ListenerDirection = "UNSPECIFIED" | "INBOUND" | "OUTBOUND";

/** Envoy Network::FilterStatus. */
export type FilterStatus = "Continue" | "StopIteration";

/** Envoy Network::ConnectionEvent values that reach filters. */
export type ConnectionEvent = "RemoteClose" | "LocalClose";

/** Lifetime of a filter-state object (Envoy StreamInfo::FilterState::LifeSpan). */
export type LifeSpan = "FilterChain" | "Request" | "Connection";

export interface FilterStateEntry {
  /** Bytes as the object serialises them (what get_property returns). */
  readonly value: Uint8Array;
  readonly span: LifeSpan;
  readonly readOnly: boolean;
  /**
   * Fields of an object with field support (FilterState::Object `hasFieldSupport` /
   * `getField`, e.g. istio/proxy's WorkloadMetadataObject under `downstream_peer_obj`): a
   * property path may name one (`filter_state.<key>.<field>`).
   */
  readonly fields?: Readonly<Record<string, string>>;
}

/**
 * The bootstrap `node.metadata` (a google.protobuf.Struct): strings and nested structs, e.g.
 * Istio's WORKLOAD_NAME, NAMESPACE, CLUSTER_ID and LABELS.
 */
export interface NodeMetadata {
  readonly [key: string]: string | NodeMetadata;
}

/**
 * Per-connection (or per-request) filter state shared by every filter of a chain and by
 * tcp_proxy. Keys are Envoy keys: wasm set_property writes `wasm.<path>`; the foreign
 * function `set_envoy_filter_state` writes Envoy's own keys such as `envoy.tcp_proxy.cluster`.
 */
export class FilterState {
  private readonly entries = new Map<string, FilterStateEntry>();

  get(key: string): FilterStateEntry | undefined {
    return this.entries.get(key);
  }

  /** Returns false, like Envoy, when a read-only entry already holds the key. */
  set(key: string, entry: FilterStateEntry): boolean {
    const existing = this.entries.get(key);
    if (existing?.readOnly) return false;
    this.entries.set(key, entry);
    return true;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

/** What a filter may read about its downstream connection (Envoy Connection + StreamInfo). */
export interface ConnectionInfo {
  /** connection.id: Envoy's per-process connection counter. */
  readonly id: bigint;
  /** Peer of the downstream connection (source.address / source.port). */
  readonly source: Address;
  /** Original destination (destination.address / destination.port). */
  readonly destination: Address;
  /** connection.requested_server_name: SNI found by tls_inspector, "" when none. */
  readonly requestedServerName: string;
  readonly listenerDirection: ListenerDirection;
  readonly filterState: FilterState;
  /** xds.cluster_name: the upstream cluster once tcp_proxy / the router picked it. */
  upstreamCluster?: string;
  /** upstream.address once connected ("ip:port"). */
  upstreamAddress?: Address;
  /** Name of the filter chain that matched (xds.filter_chain_name). */
  readonly filterChainName: string;
}

/**
 * A byte buffer owned by the filter manager. Filters read and replace `bytes` during a
 * callback (proxy_get_buffer_bytes / proxy_set_buffer_bytes). When a filter answers
 * StopIteration the manager keeps the buffer and appends the next read to it, so the next
 * callback sees a larger data_size (Envoy keeps the connection's read buffer).
 */
export interface DataBuffer {
  bytes: Uint8Array;
}

/** Envoy Network::ReadFilterCallbacks as seen by one filter of the chain. */
export interface ReadFilterCallbacks {
  readonly connection: ConnectionInfo;
  /** Resume iteration at the filter after this one (proxy_continue_stream(Downstream)). */
  continueReading(): void;
  /** connection().close(FlushWrite): what close_stream(Downstream|Upstream) does in Envoy. */
  closeConnection(): void;
}

/** A network filter instance, one per connection (Envoy Network::Filter = read + write). */
export interface NetworkFilter {
  onNewConnection(): FilterStatus;
  /** Downstream → upstream bytes (proxy_on_downstream_data). */
  onData(buffer: DataBuffer, endStream: boolean): FilterStatus;
  /** Upstream → downstream bytes (proxy_on_upstream_data). */
  onWrite(buffer: DataBuffer, endStream: boolean): FilterStatus;
  /** Downstream connection event; a close ends the wasm context (done, log, delete). */
  onEvent(event: ConnectionEvent): void;
}

export interface NetworkFilterFactory {
  readonly name: string;
  /**
   * Creates the filter for one connection. Returns undefined when the plugin's VM has failed
   * and the plugin is fail-open (Envoy then skips the filter); a fail-closed failed plugin
   * returns a filter that closes the connection.
   */
  create(callbacks: ReadFilterCallbacks): NetworkFilter | undefined;
}

/** HTTP headers in order, lower-case names, pseudo-headers (`:method`…) first. */
export type HeaderList = Array<[string, string]>;

/** Envoy Http::FilterHeadersStatus. */
export type HeadersStatus =
  | "Continue"
  | "StopIteration"
  | "ContinueAndDontEndStream"
  | "StopAllIterationAndBuffer"
  | "StopAllIterationAndWatermark";

/** Envoy Http::FilterDataStatus. */
export type DataStatus =
  | "Continue"
  | "StopIterationAndBuffer"
  | "StopIterationAndWatermark"
  | "StopIterationNoBuffer";

/** Envoy Http::FilterTrailersStatus. */
export type TrailersStatus = "Continue" | "StopIteration";

export interface LocalReply {
  readonly status: number;
  readonly body: Uint8Array;
  readonly headers: HeaderList;
  readonly details: string;
  /** -1 when none. */
  readonly grpcStatus: number;
}

export interface StreamInfo {
  readonly connection: ConnectionInfo;
  /** Request-scoped filter state (wasm set_property in an HTTP context). */
  readonly filterState: FilterState;
  upstreamCluster?: string;
  responseCode?: number;
  /** StreamInfo::responseCodeDetails (close_stream sets "wasm_close_stream" when unset). */
  responseCodeDetails?: string;
  /** Monotonic time the stream started (StreamInfo::startTimeMonotonic), ns. */
  startNs?: bigint;
  /** StreamInfo::requestComplete(): ns from start to the end of the stream, set before on_log. */
  requestCompleteNs?: bigint;
  /** StreamInfo response flags in the order set (./response-flags.ts); absent = none. */
  responseFlags?: CoreResponseFlag[];
}

export interface HttpFilterCallbacks {
  readonly streamInfo: StreamInfo;
  continueDecoding(): void;
  continueEncoding(): void;
  sendLocalReply(reply: LocalReply): void;
  /** Http::StreamFilterCallbacks::resetStream (close_stream(Request|Response)); optional. */
  resetStream?(): void;
  /** The request body buffered so far (decodingBuffer), for proxy_get_buffer_bytes. */
  decodingBuffer(): DataBuffer | undefined;
  encodingBuffer(): DataBuffer | undefined;
}

/** Envoy Http::StreamFilter (decoder + encoder) for one request. */
export interface HttpFilter {
  decodeHeaders(headers: HeaderList, endStream: boolean): HeadersStatus;
  decodeData(buffer: DataBuffer, endStream: boolean): DataStatus;
  decodeTrailers(trailers: HeaderList): TrailersStatus;
  encodeHeaders(headers: HeaderList, endStream: boolean): HeadersStatus;
  encodeData(buffer: DataBuffer, endStream: boolean): DataStatus;
  encodeTrailers(trailers: HeaderList): TrailersStatus;
  /** Access-log time (proxy_on_log) then destruction (proxy_on_done, proxy_on_delete). */
  onStreamComplete(): void;
  onDestroy(): void;
}

export interface HttpFilterFactory {
  readonly name: string;
  create(callbacks: HttpFilterCallbacks): HttpFilter | undefined;
}

/** A static upstream cluster. `PassthroughCluster` is built in (original destination). */
export interface ClusterConfig {
  readonly endpoints: ReadonlyArray<{ readonly host: string; readonly port: number; readonly weight?: number }>;
  /** "http1" (default) or "http2" (used by grpc_call and h2 upstreams). */
  readonly protocol?: "http1" | "http2";
  readonly connectTimeoutMs?: number;
}

/**
 * What the data planes (connection.ts, tcp.ts, http.ts) use from the Host. host-core's `Host`
 * satisfies it; tests of the data planes alone may pass a plain object.
 */
export interface DataPlaneHost {
  readonly clusters: Map<string, ClusterConfig>;
  /** The Envoy release the data planes copy (envoy-version.ts). @default "1.37" */
  readonly envoyVersion?: EnvoyVersion;
  nextConnectionId(): bigint;
}

/** A filter-chain entry: a plugin (wasm) or a raw factory (TypeScript fakes in tests). */
export type NetworkFilterSource = NetworkFilterFactory | { networkFilterFactory(): NetworkFilterFactory };
export type HttpFilterSource = HttpFilterFactory | { httpFilterFactory(): HttpFilterFactory };
