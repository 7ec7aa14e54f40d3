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
  readCallbacks: ReadFilterCallbacks | undefined;
  downstreamData: DataBuffer | null = null;
  upstreamData: DataBuffer | null = null;

  // HTTP filter state.
  httpCallbacks: HttpFilterCallbacks | undefined;
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

  // Root-context state.
  /** Envoy's temp_plugin_: the plugin configuration, set only during on_configure. */
  tempPluginConfiguration: Uint8Array | null = null;
  /** Only during on_http_call_response. */
  httpCallResponse: CallResponse | null = null;
  grpcReceiveBuffer: Uint8Array | null = null;
  grpcInitialMetadata: HeaderList | null = null;
  grpcTrailingMetadata: HeaderList | null = null;
  statusCode = 0;
  statusMessage = "";
  /** Created on first use: most stream contexts never make a call. */
  private pending: Map<number, () => void> | null = null;

  constructor(
    readonly vm: WasmVm,
    readonly id: number,
    root: Context | null,
  ) {
    this.root = root ?? this;
  }

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
    if (this.httpCallbacks) return this.httpCallbacks.streamInfo.connection;
    return this.readCallbacks?.connection;
  }

  /** Envoy getRequestStreamInfo()->filterState(): request-scoped for HTTP, connection for TCP. */
  filterState(): FilterState | undefined {
    if (this.httpCallbacks) return this.httpCallbacks.streamInfo.filterState;
    return this.readCallbacks?.connection.filterState;
  }
}
