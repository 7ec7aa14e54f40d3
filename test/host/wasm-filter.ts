/**
 * Envoy's wasm network and HTTP filters: the per-connection / per-request side of
 * source/extensions/common/wasm/context.cc (Context::onNewConnection, onData, onWrite, onEvent,
 * onCloseTCP, decodeHeaders…, log, onDestroy) combined with proxy-wasm-cpp-host
 * src/context.cc (ContextBase::on*, CHECK_FAIL, status conversions).
 */
import { PeerType } from "./abi.js";
import type { Context } from "./context.js";
import type {
  DataBuffer,
  DataStatus,
  FilterStatus,
  HeaderList,
  HeadersStatus,
  HttpFilter,
  HttpFilterCallbacks,
  NetworkFilter,
  ReadFilterCallbacks,
  TrailersStatus,
  ConnectionEvent,
} from "./types.js";
import type { WasmVm } from "./vm.js";

const EMPTY = new Uint8Array(0);

/** ContextBase::onCreate: proxy_on_context_create(id, root) once; marks the context created even when failed. */
function onCreate(ctx: Context): void {
  const vm = ctx.vm;
  if (!vm.failed && !ctx.inVmContextCreated && vm.exports.proxy_on_context_create !== undefined) {
    vm.call(ctx, vm.exports.proxy_on_context_create, "proxy_on_context_create", ctx.root.id);
  }
  ctx.inVmContextCreated = true;
}

function onDone(ctx: Context): void {
  if (!ctx.vm.failed) ctx.vm.call(ctx, ctx.vm.exports.proxy_on_done, "proxy_on_done");
}

function onLog(ctx: Context): void {
  if (!ctx.vm.failed) ctx.vm.call(ctx, ctx.vm.exports.proxy_on_log, "proxy_on_log");
}

function onDelete(ctx: Context): void {
  if (ctx.inVmContextCreated && !ctx.vm.failed) ctx.vm.call(ctx, ctx.vm.exports.proxy_on_delete, "proxy_on_delete");
  ctx.vm.deleteContext(ctx);
}

/**
 * A stream context for a filter instance. When the VM has already failed (fail-closed
 * plugin), Envoy builds an "empty Context" with no VM behind it: we keep the failed VM but
 * never register the context in it.
 */
function newStreamContext(vm: WasmVm): Context {
  return vm.failed ? detachedContext(vm) : vm.createStreamContext();
}

function detachedContext(vm: WasmVm): Context {
  // Shares the class but is never in vm.contexts; every callback is skipped (vm.failed).
  const ctx = vm.createStreamContext();
  vm.contexts.delete(ctx.id);
  return ctx;
}

export class WasmNetworkFilter implements NetworkFilter {
  readonly ctx: Context;

  constructor(
    readonly vm: WasmVm,
    private readonly callbacks: ReadFilterCallbacks,
    private readonly failOpen: boolean,
  ) {
    this.ctx = newStreamContext(vm);
    this.ctx.readCallbacks = callbacks;
  }

  /** CHECK_FAIL_NET: fail-open → Continue; fail-closed → close the connection once, StopIteration. */
  private checkFail(): FilterStatus | null {
    if (!this.vm.failed) return null;
    if (this.failOpen) return "Continue";
    if (!this.ctx.streamFailed) {
      this.ctx.streamFailed = true;
      // failStream(Downstream) and failStream(Upstream): both close the downstream connection.
      this.callbacks.closeConnection();
    }
    return "StopIteration";
  }

  onNewConnection(): FilterStatus {
    onCreate(this.ctx);
    const f = this.checkFail();
    if (f !== null) return f;
    if (this.vm.exports.proxy_on_new_connection === undefined) return "Continue";
    const r = this.vm.call(this.ctx, this.vm.exports.proxy_on_new_connection, "proxy_on_new_connection");
    return this.checkFail() ?? (r === 0 ? "Continue" : "StopIteration");
  }

  onData(buffer: DataBuffer, endStream: boolean): FilterStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated) return "Continue";
    ctx.downstreamData = buffer;
    ctx.endOfStream = endStream;
    let status = this.checkFail();
    if (status === null) {
      if (this.vm.exports.proxy_on_downstream_data === undefined) status = "Continue";
      else {
        const r = this.vm.call(ctx, this.vm.exports.proxy_on_downstream_data, "proxy_on_downstream_data", buffer.bytes.length, endStream ? 1 : 0);
        status = this.checkFail() ?? (r === 0 ? "Continue" : "StopIteration");
      }
    }
    if (status === "Continue") ctx.downstreamData = null;
    return status;
  }

  onWrite(buffer: DataBuffer, endStream: boolean): FilterStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated) return "Continue";
    ctx.upstreamData = buffer;
    ctx.endOfStream = endStream;
    let status = this.checkFail();
    if (status === null) {
      if (this.vm.exports.proxy_on_upstream_data === undefined) status = "Continue";
      else {
        const r = this.vm.call(ctx, this.vm.exports.proxy_on_upstream_data, "proxy_on_upstream_data", buffer.bytes.length, endStream ? 1 : 0);
        status = this.checkFail() ?? (r === 0 ? "Continue" : "StopIteration");
      }
    }
    if (status === "Continue") ctx.upstreamData = null;
    // Envoy reports the upstream close on end_stream, not on an upstream connection event.
    if (endStream) this.onUpstreamConnectionClose(PeerType.Unknown);
    return status;
  }

  onEvent(event: ConnectionEvent): void {
    // Envoy raises one close event per connection; a second one must not reach a deleted context.
    if (!this.ctx.inVmContextCreated || this.ctx.tcpConnectionClosed) return;
    if (event === "LocalClose") this.onDownstreamConnectionClose(PeerType.Local);
    else if (event === "RemoteClose") this.onDownstreamConnectionClose(PeerType.Remote);
  }

  private onDownstreamConnectionClose(peer: PeerType): void {
    if (!this.vm.failed) this.vm.call(this.ctx, this.vm.exports.proxy_on_downstream_connection_close, "proxy_on_downstream_connection_close", peer);
    this.ctx.downstreamClosed = true;
    this.onCloseTCP();
  }

  private onUpstreamConnectionClose(peer: PeerType): void {
    if (!this.vm.failed) this.vm.call(this.ctx, this.vm.exports.proxy_on_upstream_connection_close, "proxy_on_upstream_connection_close", peer);
    this.ctx.upstreamClosed = true;
    if (this.ctx.downstreamClosed) this.onCloseTCP();
  }

  /** Context::onCloseTCP: done, log, delete exactly once. */
  private onCloseTCP(): void {
    const ctx = this.ctx;
    if (ctx.tcpConnectionClosed || !ctx.inVmContextCreated) return;
    ctx.tcpConnectionClosed = true;
    onDone(ctx);
    onLog(ctx);
    onDelete(ctx);
  }
}

const HEADERS_STATUS: readonly HeadersStatus[] = [
  "Continue",
  // proxy-wasm 0.2.*: StopIteration from a headers callback pauses everything (cpp-host #143).
  "StopAllIterationAndWatermark",
  // ContinueAndEndStream has no Envoy counterpart: convertFilterHeadersStatus's default → Continue.
  "Continue",
  "StopAllIterationAndBuffer",
  "StopAllIterationAndWatermark",
];
const DATA_STATUS: readonly DataStatus[] = [
  "Continue",
  "StopIterationAndBuffer",
  "StopIterationAndWatermark",
  "StopIterationNoBuffer",
];

export class WasmHttpFilter implements HttpFilter {
  readonly ctx: Context;

  constructor(
    readonly vm: WasmVm,
    private readonly callbacks: HttpFilterCallbacks,
    private readonly failOpen: boolean,
  ) {
    this.ctx = newStreamContext(vm);
    this.ctx.httpCallbacks = callbacks;
  }

  /** CHECK_FAIL_HTTP: fail-closed sends one 503 local reply (failStream, "wasm_fail_stream"). */
  private failed(): boolean | null {
    if (!this.vm.failed) return null;
    if (this.failOpen) return false;
    const ctx = this.ctx;
    if (!ctx.streamFailed) {
      ctx.streamFailed = true;
      if (!ctx.failureLocalReplySent) {
        ctx.failureLocalReplySent = true;
        this.callbacks.sendLocalReply({
          status: 503,
          body: EMPTY,
          headers: [],
          details: "wasm_fail_stream",
          grpcStatus: 14,
        });
      }
    }
    return true;
  }

  private headersCall(name: "proxy_on_request_headers" | "proxy_on_response_headers", n: number, eos: boolean): HeadersStatus {
    let f = this.failed();
    if (f !== null) return f ? "StopAllIterationAndWatermark" : "Continue";
    const fn = name === "proxy_on_request_headers" ? this.vm.exports.proxy_on_request_headers : this.vm.exports.proxy_on_response_headers;
    if (fn === undefined) return "Continue";
    const r = this.vm.call(this.ctx, fn, name, n, eos ? 1 : 0) >>> 0;
    f = this.failed();
    if (f !== null) return f ? "StopAllIterationAndWatermark" : "Continue";
    if (this.vm.stopNextIteration || r > 4) return "StopAllIterationAndWatermark";
    return HEADERS_STATUS[r];
  }

  private dataCall(name: "proxy_on_request_body" | "proxy_on_response_body", size: number, eos: boolean): DataStatus {
    let f = this.failed();
    if (f !== null) return f ? "StopIterationNoBuffer" : "Continue";
    const fn = name === "proxy_on_request_body" ? this.vm.exports.proxy_on_request_body : this.vm.exports.proxy_on_response_body;
    if (fn === undefined) return "Continue";
    const r = this.vm.call(this.ctx, fn, name, size, eos ? 1 : 0) >>> 0;
    f = this.failed();
    if (f !== null) return f ? "StopIterationNoBuffer" : "Continue";
    if (this.vm.stopNextIteration || r > 3) return "StopIterationNoBuffer";
    return DATA_STATUS[r];
  }

  private trailersCall(name: "proxy_on_request_trailers" | "proxy_on_response_trailers", n: number): TrailersStatus {
    let f = this.failed();
    if (f !== null) return f ? "StopIteration" : "Continue";
    const fn = name === "proxy_on_request_trailers" ? this.vm.exports.proxy_on_request_trailers : this.vm.exports.proxy_on_response_trailers;
    if (fn === undefined) return "Continue";
    const r = this.vm.call(this.ctx, fn, name, n) >>> 0;
    f = this.failed();
    if (f !== null) return f ? "StopIteration" : "Continue";
    return this.vm.stopNextIteration || r !== 0 ? "StopIteration" : "Continue";
  }

  decodeHeaders(headers: HeaderList, endStream: boolean): HeadersStatus {
    const ctx = this.ctx;
    onCreate(ctx);
    ctx.requestHeaders = headers;
    ctx.accessLogRequestHeaders = headers;
    ctx.endOfStream = endStream;
    const s = this.headersCall("proxy_on_request_headers", headers.length, endStream);
    // Once Continue is returned Envoy drops its pointer: later reads answer BadArgument.
    if (s === "Continue") ctx.requestHeaders = null;
    return s;
  }

  decodeData(buffer: DataBuffer, endStream: boolean): DataStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated) return "Continue";
    let size = buffer.bytes.length;
    if (ctx.bufferingRequestBody) {
      // decoder_callbacks_->addDecodedData(data, false): the chunk joins the buffered body.
      size = absorbIntoBuffered(this.callbacks.decodingBuffer(), buffer, size);
    }
    ctx.requestBody = buffer;
    ctx.endOfStream = endStream;
    const s = this.dataCall("proxy_on_request_body", size, endStream);
    ctx.bufferingRequestBody = s === "StopIterationAndBuffer";
    if (s === "Continue") ctx.requestBody = null;
    return s;
  }

  decodeTrailers(trailers: HeaderList): TrailersStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated) return "Continue";
    ctx.requestTrailers = trailers;
    const s = this.trailersCall("proxy_on_request_trailers", trailers.length);
    if (s === "Continue") ctx.requestTrailers = null;
    return s;
  }

  encodeHeaders(headers: HeaderList, endStream: boolean): HeadersStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return "Continue";
    ctx.responseHeaders = headers;
    ctx.accessLogResponseHeaders = headers;
    ctx.endOfStream = endStream;
    const s = this.headersCall("proxy_on_response_headers", headers.length, endStream);
    if (s === "Continue") ctx.responseHeaders = null;
    return s;
  }

  encodeData(buffer: DataBuffer, endStream: boolean): DataStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return "Continue";
    let size = buffer.bytes.length;
    if (ctx.bufferingResponseBody) {
      size = absorbIntoBuffered(this.callbacks.encodingBuffer(), buffer, size);
    }
    ctx.responseBody = buffer;
    ctx.endOfStream = endStream;
    const s = this.dataCall("proxy_on_response_body", size, endStream);
    ctx.bufferingResponseBody = s === "StopIterationAndBuffer";
    if (s === "Continue") ctx.responseBody = null;
    return s;
  }

  encodeTrailers(trailers: HeaderList): TrailersStatus {
    const ctx = this.ctx;
    if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return "Continue";
    ctx.responseTrailers = trailers;
    ctx.accessLogResponseTrailers = trailers;
    const s = this.trailersCall("proxy_on_response_trailers", trailers.length);
    if (s === "Continue") ctx.responseTrailers = null;
    return s;
  }

  /** Context::log (the filter is also the access logger): on_log with the maps readable. */
  onStreamComplete(): void {
    const ctx = this.ctx;
    if (ctx.destroyed) return;
    if (!ctx.inVmContextCreated) onCreate(ctx);
    ctx.accessLogPhase = true;
    try {
      onLog(ctx);
    } finally {
      ctx.accessLogPhase = false;
    }
  }

  /** Context::onDestroy: done, delete once. */
  onDestroy(): void {
    const ctx = this.ctx;
    if (ctx.destroyed || !ctx.inVmContextCreated) return;
    ctx.destroyed = true;
    onDone(ctx);
    onDelete(ctx);
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Moves a new body chunk into the body the filter manager buffered so far and answers the size
 * the filter must be told. On continue Envoy may hand the buffered body itself back as the data:
 * joining a buffer with itself would empty it, so that case is left alone.
 */
function absorbIntoBuffered(buffered: DataBuffer | undefined, chunk: DataBuffer, size: number): number {
  if (!buffered || buffered === chunk) return size;
  buffered.bytes = join(buffered.bytes, chunk.bytes);
  chunk.bytes = EMPTY;
  return buffered.bytes.length;
}
