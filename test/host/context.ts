/**
 * One proxy-wasm context (Envoy source/extensions/common/wasm/context.h Context): a root context
 * per plugin per VM, and one stream context per connection (network filter) or request (HTTP
 * filter). Holds the pointers Envoy's Context holds, so host functions can answer the way
 * Envoy's do (a header map that is "not available" is null here as it is nullptr there).
 */
import type {
  ConnectionInfo,
  DataBuffer,
  FilterState,
  HeaderList,
  HttpFilterCallbacks,
  ReadFilterCallbacks,
} from "./types.js";
import type { WasmVm } from "./vm.js";

export interface CallResponse {
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList;
}

/**
 * The HTTP filter's pointers (Envoy Context request_headers_, request_body_buffer_, …), created
 * with the HTTP callbacks: a network stream context never allocates them.
 */
export class HttpState {
  requestHeaders: HeaderList | null = null;
  requestTrailers: HeaderList | null = null;
  responseHeaders: HeaderList | null = null;
  responseTrailers: HeaderList | null = null;
  requestBody: DataBuffer | null = null;
  responseBody: DataBuffer | null = null;
  bufferingRequestBody = false;
  bufferingResponseBody = false;
  failureLocalReplySent = false;
  accessLogPhase = false;
  accessLogRequestHeaders: HeaderList | null = null;
  accessLogResponseHeaders: HeaderList | null = null;
  accessLogResponseTrailers: HeaderList | null = null;
}

/** Root-context state (plugin configuration, call responses, status), created on first write. */
export class RootState {
  /** Envoy's temp_plugin_: the plugin configuration, set only during on_configure. */
  tempPluginConfiguration: Uint8Array | null = null;
  /** Only during on_http_call_response. */
  httpCallResponse: CallResponse | null = null;
  /** Envoy's grpc_receive_buffer_ (a Buffer::Instance, so writable), only during on_grpc_receive. */
  grpcReceiveBuffer: DataBuffer | null = null;
  grpcInitialMetadata: HeaderList | null = null;
  grpcTrailingMetadata: HeaderList | null = null;
  statusCode = 0;
  statusMessage = "";
}

/*
 * A context is created and deleted per connection, so it holds only what every stream context
 * needs; the HTTP and root-only fields live in the sub-objects above and are reached through
 * the accessors below (reads of an absent sub-object answer the field's initial value).
 */
export class Context {
  /** Root context: itself; stream context: its root. */
  readonly root: Context;
  inVmContextCreated = false;
  /** CHECK_FAIL's stream_failed_: the failure was already turned into a close / local reply. */
  streamFailed = false;
  destroyed = false;
  tcpConnectionClosed = false;
  downstreamClosed = false;
  upstreamClosed = false;
  endOfStream = false;

  // Network filter state.
  readCallbacks: ReadFilterCallbacks | undefined = undefined;
  downstreamData: DataBuffer | null = null;
  upstreamData: DataBuffer | null = null;

  /** HTTP filter state: null until httpCallbacks is set (or an HTTP field is written). */
  http: HttpState | null = null;
  private hcb: HttpFilterCallbacks | undefined = undefined;
  private rs: RootState | null = null;
  /** Created on first use: most stream contexts never make a call. */
  private pending: Map<number, () => void> | null = null;

  constructor(
    readonly vm: WasmVm,
    readonly id: number,
    root: Context | null,
  ) {
    this.root = root ?? this;
  }

  get httpCallbacks(): HttpFilterCallbacks | undefined {
    return this.hcb;
  }
  set httpCallbacks(cb: HttpFilterCallbacks | undefined) {
    this.hcb = cb;
    if (cb !== undefined) this.http ??= new HttpState();
  }

  /** The HTTP state, created when missing. */
  httpState(): HttpState {
    return (this.http ??= new HttpState());
  }

  /** The root-context state, created when missing. */
  rootState(): RootState {
    return (this.rs ??= new RootState());
  }

  // HTTP fields.
  get requestHeaders(): HeaderList | null { return this.http === null ? null : this.http.requestHeaders; }
  set requestHeaders(v: HeaderList | null) { this.httpState().requestHeaders = v; }
  get requestTrailers(): HeaderList | null { return this.http === null ? null : this.http.requestTrailers; }
  set requestTrailers(v: HeaderList | null) { this.httpState().requestTrailers = v; }
  get responseHeaders(): HeaderList | null { return this.http === null ? null : this.http.responseHeaders; }
  set responseHeaders(v: HeaderList | null) { this.httpState().responseHeaders = v; }
  get responseTrailers(): HeaderList | null { return this.http === null ? null : this.http.responseTrailers; }
  set responseTrailers(v: HeaderList | null) { this.httpState().responseTrailers = v; }
  get requestBody(): DataBuffer | null { return this.http === null ? null : this.http.requestBody; }
  set requestBody(v: DataBuffer | null) { this.httpState().requestBody = v; }
  get responseBody(): DataBuffer | null { return this.http === null ? null : this.http.responseBody; }
  set responseBody(v: DataBuffer | null) { this.httpState().responseBody = v; }
  get bufferingRequestBody(): boolean { return this.http !== null && this.http.bufferingRequestBody; }
  set bufferingRequestBody(v: boolean) { this.httpState().bufferingRequestBody = v; }
  get bufferingResponseBody(): boolean { return this.http !== null && this.http.bufferingResponseBody; }
  set bufferingResponseBody(v: boolean) { this.httpState().bufferingResponseBody = v; }
  get failureLocalReplySent(): boolean { return this.http !== null && this.http.failureLocalReplySent; }
  set failureLocalReplySent(v: boolean) { this.httpState().failureLocalReplySent = v; }
  get accessLogPhase(): boolean { return this.http !== null && this.http.accessLogPhase; }
  set accessLogPhase(v: boolean) { this.httpState().accessLogPhase = v; }
  get accessLogRequestHeaders(): HeaderList | null { return this.http === null ? null : this.http.accessLogRequestHeaders; }
  set accessLogRequestHeaders(v: HeaderList | null) { this.httpState().accessLogRequestHeaders = v; }
  get accessLogResponseHeaders(): HeaderList | null { return this.http === null ? null : this.http.accessLogResponseHeaders; }
  set accessLogResponseHeaders(v: HeaderList | null) { this.httpState().accessLogResponseHeaders = v; }
  get accessLogResponseTrailers(): HeaderList | null { return this.http === null ? null : this.http.accessLogResponseTrailers; }
  set accessLogResponseTrailers(v: HeaderList | null) { this.httpState().accessLogResponseTrailers = v; }

  // Root-context fields.
  get tempPluginConfiguration(): Uint8Array | null { return this.rs === null ? null : this.rs.tempPluginConfiguration; }
  set tempPluginConfiguration(v: Uint8Array | null) { this.rootState().tempPluginConfiguration = v; }
  get httpCallResponse(): CallResponse | null { return this.rs === null ? null : this.rs.httpCallResponse; }
  set httpCallResponse(v: CallResponse | null) { this.rootState().httpCallResponse = v; }
  get grpcReceiveBuffer(): DataBuffer | null { return this.rs === null ? null : this.rs.grpcReceiveBuffer; }
  set grpcReceiveBuffer(v: DataBuffer | null) { this.rootState().grpcReceiveBuffer = v; }
  get grpcInitialMetadata(): HeaderList | null { return this.rs === null ? null : this.rs.grpcInitialMetadata; }
  set grpcInitialMetadata(v: HeaderList | null) { this.rootState().grpcInitialMetadata = v; }
  get grpcTrailingMetadata(): HeaderList | null { return this.rs === null ? null : this.rs.grpcTrailingMetadata; }
  set grpcTrailingMetadata(v: HeaderList | null) { this.rootState().grpcTrailingMetadata = v; }
  get statusCode(): number { return this.rs === null ? 0 : this.rs.statusCode; }
  set statusCode(v: number) { this.rootState().statusCode = v; }
  get statusMessage(): string { return this.rs === null ? "" : this.rs.statusMessage; }
  set statusMessage(v: string) { this.rootState().statusMessage = v; }

  /** Outstanding http_call / grpc_call cancellers by token. */
  get pendingCalls(): Map<number, () => void> {
    return (this.pending ??= new Map());
  }

  /** Runs and forgets every outstanding call's canceller (context deleted, host closed). */
  cancelPendingCalls(): void {
    const p = this.pending;
    if (p === null || p.size === 0) return;
    for (const cancel of p.values()) cancel();
    p.clear();
  }

  get isRoot(): boolean {
    return this.root === this;
  }

  /** Envoy getConnection(): the downstream connection of a stream context. */
  connection(): ConnectionInfo | undefined {
    const h = this.hcb;
    if (h !== undefined) return h.streamInfo.connection;
    const r = this.readCallbacks;
    return r === undefined ? undefined : r.connection;
  }

  /** Envoy getRequestStreamInfo()->filterState(): request-scoped for HTTP, connection for TCP. */
  filterState(): FilterState | undefined {
    const h = this.hcb;
    if (h !== undefined) return h.streamInfo.filterState;
    const r = this.readCallbacks;
    return r === undefined ? undefined : r.connection.filterState;
  }
}
