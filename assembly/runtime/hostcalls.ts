// Wrappers of the proxy-wasm host functions. Every wrapper returns the host's WasmResult, or a
// small result object holding status + value; none throws or aborts.
//
// Memory the host hands back (get_property, buffers, header maps, shared data, queues, foreign
// function results) was obtained from our exported `malloc` (heap.alloc, not GC-managed). The
// wrappers copy it into an ArrayBuffer and free it at once.
import * as imp from "./imports";
import { BufferType, LifeSpan, LogLevel, MapType, MetricType, StreamType, WasmResult } from "./enums";
import { HeaderPair, Headers, deserializePairs, serializePairs } from "./pairs";
import { joinPath } from "./path";
import { encodeSetEnvoyFilterStateArguments } from "./protobuf";

// Return slots in static memory: no allocation per host call.
const RET_PTR: usize = memory.data(8);
const RET_SIZE: usize = memory.data(8);
const RET_EXTRA: usize = memory.data(8);

// A landing place for the next `malloc` (exports.ts): getBufferBytesInto points it at the
// caller's buffer for the duration of its host call, so the host copies straight into it and
// there is no heap block to allocate, copy from and free. get_buffer_bytes makes exactly one
// allocation, of the size it copies (Envoy source/extensions/common/wasm/context.cc
// Buffer::copyTo → WasmBase::allocMemory; proxy-wasm-cpp-host include/proxy-wasm/wasm.h
// copyToPointerSize), so the first malloc of the call is the one; a size that does not fit
// falls back to the heap, and the landing place is withdrawn when the call returns.
let landingPtr: usize = 0;
let landingRoom: usize = 0;

/** For `malloc`: the landing place when one is offered and `size` fits it, else 0. Offered once. */
// @ts-ignore: decorator
@inline export function takeLanding(size: usize): usize {
  const p = landingPtr;
  if (p == 0) return 0;
  landingPtr = 0;
  return size <= landingRoom ? p : 0;
}

/** Shared empty value, so failures do not allocate. */
export const EMPTY: ArrayBuffer = new ArrayBuffer(0);

export class BytesResult {
  constructor(public status: WasmResult, public value: ArrayBuffer) {}
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
  /** The value decoded as UTF-8 ("" on failure). */
  text(): string {
    return String.UTF8.decode(this.value);
  }
}

export class U32Result {
  constructor(public status: WasmResult, public value: u32) {}
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

export class U64Result {
  constructor(public status: WasmResult, public value: u64) {}
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

export class SharedDataResult {
  constructor(public status: WasmResult, public value: ArrayBuffer, public cas: u32) {}
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

export class HeadersResult {
  constructor(public status: WasmResult, public pairs: Headers) {}
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

function clearReturn(): void {
  store<u32>(RET_PTR, 0);
  store<u32>(RET_SIZE, 0);
  store<u32>(RET_EXTRA, 0);
}

/** Copies the host-filled (RET_PTR, RET_SIZE) region into an ArrayBuffer and frees it. */
function takeReturned(): ArrayBuffer {
  const ptr = <usize>load<u32>(RET_PTR);
  const size = <i32>load<u32>(RET_SIZE);
  if (ptr == 0) return EMPTY;
  let out = EMPTY;
  if (size > 0) {
    out = new ArrayBuffer(size);
    memory.copy(changetype<usize>(out), ptr, <usize>size);
  }
  heap.free(ptr);
  return out;
}

function bytesResult(status: u32): BytesResult {
  const value = takeReturned();
  return new BytesResult(<WasmResult>status, status == WasmResult.Ok ? value : EMPTY);
}

@inline function ptr(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

@inline function len(b: ArrayBuffer): usize {
  return <usize>b.byteLength;
}

// ---- logging, time, timers, context ---------------------------------------------------------

export function log(level: LogLevel, message: string): WasmResult {
  const b = String.UTF8.encode(message);
  return <WasmResult>imp.proxy_log(<u32>level, ptr(b), len(b));
}

export function logTrace(message: string): WasmResult { return log(LogLevel.Trace, message); }
export function logDebug(message: string): WasmResult { return log(LogLevel.Debug, message); }
export function logInfo(message: string): WasmResult { return log(LogLevel.Info, message); }
export function logWarn(message: string): WasmResult { return log(LogLevel.Warn, message); }
export function logError(message: string): WasmResult { return log(LogLevel.Error, message); }
export function logCritical(message: string): WasmResult { return log(LogLevel.Critical, message); }

export function getLogLevel(): U32Result {
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_get_log_level(RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

/** Host time in nanoseconds since the epoch; 0 when the host refuses. */
export function getCurrentTimeNanoseconds(): u64 {
  store<u64>(RET_EXTRA, 0);
  if (imp.proxy_get_current_time_nanoseconds(RET_EXTRA) != WasmResult.Ok) return 0;
  return load<u64>(RET_EXTRA);
}

export function setTickPeriodMilliseconds(period: u32): WasmResult {
  return <WasmResult>imp.proxy_set_tick_period_milliseconds(period);
}

export function setEffectiveContext(context_id: u32): WasmResult {
  return <WasmResult>imp.proxy_set_effective_context(context_id);
}

/** Tells the host a context whose onDone returned false has finished. */
export function done(): WasmResult {
  return <WasmResult>imp.proxy_done();
}

// ---- properties ------------------------------------------------------------------------------

/** Reads a property by its already-joined path (segments separated by NUL). */
export function getPropertyBytes(path: ArrayBuffer): BytesResult {
  clearReturn();
  return bytesResult(imp.proxy_get_property(ptr(path), len(path), RET_PTR, RET_SIZE));
}

/** Reads a property: `getProperty(["source", "address"])`. */
export function getProperty(segments: string[]): BytesResult {
  return getPropertyBytes(joinPath(segments));
}

export function setPropertyBytes(path: ArrayBuffer, value: ArrayBuffer): WasmResult {
  return <WasmResult>imp.proxy_set_property(ptr(path), len(path), ptr(value), len(value));
}

/**
 * setPropertyBytes for a value that already sits in linear memory (e.g. a slice of a buffer the
 * caller keeps): no copy and no allocation. `value` must stay valid for the call only.
 */
export function setPropertyFrom(path: ArrayBuffer, value: usize, size: usize): WasmResult {
  return <WasmResult>imp.proxy_set_property(ptr(path), len(path), value, size);
}

/**
 * setPropertyBytes with path and value given by address: for data paths whose buffers are kept
 * alive elsewhere, so the call has no managed argument to spill to the shadow stack.
 */
export function setPropertyRaw(path: usize, pathSize: usize, value: usize, size: usize): WasmResult {
  return <WasmResult>imp.proxy_set_property(path, pathSize, value, size);
}

/** Sets a property; Envoy stores it as filter state `wasm.<path>` and refuses it on a root context. */
export function setProperty(segments: string[], value: ArrayBuffer): WasmResult {
  return setPropertyBytes(joinPath(segments), value);
}

// ---- buffers ---------------------------------------------------------------------------------

export function getBufferBytes(buffer: BufferType, start: u32, maxSize: u32): BytesResult {
  clearReturn();
  return bytesResult(imp.proxy_get_buffer_bytes(<u32>buffer, start, maxSize, RET_PTR, RET_SIZE));
}

/**
 * get_buffer_bytes straight into `dst` at `dstOffset`, for data paths that accumulate bytes in a
 * buffer of their own: the host's copy (our `malloc`) is copied once and freed, and nothing is
 * allocated on the GC heap. At most `dst.byteLength - dstOffset` bytes are copied (the rest of
 * what the host returned is dropped), so ask for no more than fits. Returns the number of bytes
 * copied (>= 0), or the negated WasmResult when the host refused (nothing copied).
 */
export function getBufferBytesInto(buffer: BufferType, start: u32, maxSize: u32, dst: ArrayBuffer, dstOffset: i32): i32 {
  clearReturn();
  const room = dst.byteLength - dstOffset;
  const target = changetype<usize>(dst) + <usize>dstOffset;
  if (room > 0) {
    landingPtr = target;
    landingRoom = <usize>room;
  }
  const s = imp.proxy_get_buffer_bytes(<u32>buffer, start, maxSize, RET_PTR, RET_SIZE);
  landingPtr = 0;
  const p = <usize>load<u32>(RET_PTR);
  let n = <i32>load<u32>(RET_SIZE);
  if (n > room) n = room;
  if (n < 0 || s != WasmResult.Ok) n = 0;
  // The host wrote into `dst` itself (malloc answered the landing place): nothing to copy or free.
  if (p != 0 && p != target) {
    if (n > 0) memory.copy(target, p, <usize>n);
    heap.free(p);
  }
  return s == WasmResult.Ok ? n : -<i32>s;
}

/** The whole buffer (start 0, max size u32.MAX). */
export function getBuffer(buffer: BufferType): BytesResult {
  return getBufferBytes(buffer, 0, u32.MAX_VALUE);
}

/** Replaces `size` bytes at `start` with `data` (start 0 / size 0 prepends; start >= length appends). */
export function setBufferBytes(buffer: BufferType, start: u32, size: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>imp.proxy_set_buffer_bytes(<u32>buffer, start, size, ptr(data), len(data));
}

/** Buffer length; the ABI's flags word is ignored. */
export function getBufferStatus(buffer: BufferType): U32Result {
  clearReturn();
  const s = imp.proxy_get_buffer_status(<u32>buffer, RET_SIZE, RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_SIZE));
}

export function getPluginConfiguration(): BytesResult {
  return getBuffer(BufferType.PluginConfiguration);
}

export function getVmConfiguration(): BytesResult {
  return getBuffer(BufferType.VmConfiguration);
}

// ---- header maps -----------------------------------------------------------------------------

export function getHeaderMapPairs(map: MapType): HeadersResult {
  clearReturn();
  const s = imp.proxy_get_header_map_pairs(<u32>map, RET_PTR, RET_SIZE);
  const raw = takeReturned();
  if (s != WasmResult.Ok) return new HeadersResult(<WasmResult>s, new Array<HeaderPair>());
  const parsed = deserializePairs(raw);
  if (parsed.error.length > 0) return new HeadersResult(WasmResult.SerializationFailure, parsed.pairs);
  return new HeadersResult(WasmResult.Ok, parsed.pairs);
}

export function setHeaderMapPairs(map: MapType, pairs: Headers): WasmResult {
  const b = serializePairs(pairs);
  return <WasmResult>imp.proxy_set_header_map_pairs(<u32>map, ptr(b), len(b));
}

export function getHeaderMapValue(map: MapType, key: string): BytesResult {
  const k = String.UTF8.encode(key);
  clearReturn();
  return bytesResult(imp.proxy_get_header_map_value(<u32>map, ptr(k), len(k), RET_PTR, RET_SIZE));
}

export function addHeaderMapValue(map: MapType, key: string, value: string): WasmResult {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  return <WasmResult>imp.proxy_add_header_map_value(<u32>map, ptr(k), len(k), ptr(v), len(v));
}

export function replaceHeaderMapValue(map: MapType, key: string, value: string): WasmResult {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  return <WasmResult>imp.proxy_replace_header_map_value(<u32>map, ptr(k), len(k), ptr(v), len(v));
}

export function removeHeaderMapValue(map: MapType, key: string): WasmResult {
  const k = String.UTF8.encode(key);
  return <WasmResult>imp.proxy_remove_header_map_value(<u32>map, ptr(k), len(k));
}

export function getHeaderMapSize(map: MapType): U32Result {
  clearReturn();
  const s = imp.proxy_get_header_map_size(<u32>map, RET_SIZE);
  return new U32Result(<WasmResult>s, load<u32>(RET_SIZE));
}

// ---- streams ---------------------------------------------------------------------------------

export function continueStream(stream: StreamType): WasmResult {
  return <WasmResult>imp.proxy_continue_stream(<u32>stream);
}

export function closeStream(stream: StreamType): WasmResult {
  return <WasmResult>imp.proxy_close_stream(<u32>stream);
}

/** grpcStatus -1 sends no grpc-status. */
export function sendLocalResponse(
  statusCode: u32, details: string, body: ArrayBuffer, headers: Headers, grpcStatus: i32 = -1,
): WasmResult {
  const d = String.UTF8.encode(details);
  const h = serializePairs(headers);
  return <WasmResult>imp.proxy_send_local_response(
    statusCode, ptr(d), len(d), ptr(body), len(body), ptr(h), len(h), grpcStatus);
}

// ---- metrics ---------------------------------------------------------------------------------

/**
 * Defines (or finds) a metric. The value is the host's id, an opaque u32: Envoy packs the type
 * into the low two bits (a gauge's id can be 1), other hosts start at 0, so any value is valid
 * and only `status` says whether the definition worked.
 */
export function defineMetric(type: MetricType, name: string): U32Result {
  const n = String.UTF8.encode(name);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_define_metric(<u32>type, ptr(n), len(n), RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

/** Envoy answers BadArgument for an offset of 0 on a counter. */
export function incrementMetric(id: u32, offset: i64): WasmResult {
  return <WasmResult>imp.proxy_increment_metric(id, offset);
}

export function recordMetric(id: u32, value: u64): WasmResult {
  return <WasmResult>imp.proxy_record_metric(id, value);
}

/** Envoy answers BadArgument for a histogram. */
export function getMetric(id: u32): U64Result {
  store<u64>(RET_EXTRA, 0);
  const s = imp.proxy_get_metric(id, RET_EXTRA);
  return new U64Result(<WasmResult>s, load<u64>(RET_EXTRA));
}

/** A metric defined once (typically in onConfigure) and then used by id on the data path. */
export class Metric {
  constructor(public type: MetricType, public name: string, public id: u32, public status: WasmResult) {}
  static define(type: MetricType, name: string): Metric {
    const r = defineMetric(type, name);
    return new Metric(type, name, r.value, r.status);
  }
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
  increment(offset: i64): WasmResult {
    return incrementMetric(this.id, offset);
  }
  record(value: u64): WasmResult {
    return recordMetric(this.id, value);
  }
  get(): U64Result {
    return getMetric(this.id);
  }
}

// ---- shared data and queues ------------------------------------------------------------------

export function getSharedData(key: string): SharedDataResult {
  const k = String.UTF8.encode(key);
  clearReturn();
  const s = imp.proxy_get_shared_data(ptr(k), len(k), RET_PTR, RET_SIZE, RET_EXTRA);
  const cas = load<u32>(RET_EXTRA);
  const value = takeReturned();
  if (s != WasmResult.Ok) return new SharedDataResult(<WasmResult>s, EMPTY, 0);
  return new SharedDataResult(WasmResult.Ok, value, cas);
}

/** cas 0 sets unconditionally; otherwise the host answers CasMismatch when the value changed. */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  const k = String.UTF8.encode(key);
  return <WasmResult>imp.proxy_set_shared_data(ptr(k), len(k), ptr(value), len(value), cas);
}

export function registerSharedQueue(name: string): U32Result {
  const n = String.UTF8.encode(name);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_register_shared_queue(ptr(n), len(n), RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

export function resolveSharedQueue(vmId: string, name: string): U32Result {
  const v = String.UTF8.encode(vmId);
  const n = String.UTF8.encode(name);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_resolve_shared_queue(ptr(v), len(v), ptr(n), len(n), RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

/** Empty status means the queue has no more items. */
export function dequeueSharedQueue(token: u32): BytesResult {
  clearReturn();
  return bytesResult(imp.proxy_dequeue_shared_queue(token, RET_PTR, RET_SIZE));
}

export function enqueueSharedQueue(token: u32, value: ArrayBuffer): WasmResult {
  return <WasmResult>imp.proxy_enqueue_shared_queue(token, ptr(value), len(value));
}

// ---- outgoing calls --------------------------------------------------------------------------

/** Token for onHttpCallResponse, which Envoy delivers to the root context. */
export function httpCall(
  cluster: string, headers: Headers, body: ArrayBuffer, trailers: Headers, timeoutMs: u32,
): U32Result {
  const c = String.UTF8.encode(cluster);
  const h = serializePairs(headers);
  const t = serializePairs(trailers);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_http_call(ptr(c), len(c), ptr(h), len(h), ptr(body), len(body), ptr(t), len(t), timeoutMs, RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

/**
 * Unary gRPC call; `service` is a cluster name or a serialized envoy GrpcService. Callbacks
 * (onGrpcReceive*, onGrpcClose) go to the root context.
 */
export function grpcCall(
  service: string, serviceName: string, method: string, metadata: Headers, message: ArrayBuffer, timeoutMs: u32,
): U32Result {
  const sv = String.UTF8.encode(service);
  const sn = String.UTF8.encode(serviceName);
  const m = String.UTF8.encode(method);
  const md = serializePairs(metadata);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_grpc_call(ptr(sv), len(sv), ptr(sn), len(sn), ptr(m), len(m), ptr(md), len(md),
    ptr(message), len(message), timeoutMs, RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

export function grpcStream(service: string, serviceName: string, method: string, metadata: Headers): U32Result {
  const sv = String.UTF8.encode(service);
  const sn = String.UTF8.encode(serviceName);
  const m = String.UTF8.encode(method);
  const md = serializePairs(metadata);
  store<u32>(RET_EXTRA, 0);
  const s = imp.proxy_grpc_stream(ptr(sv), len(sv), ptr(sn), len(sn), ptr(m), len(m), ptr(md), len(md), RET_EXTRA);
  return new U32Result(<WasmResult>s, load<u32>(RET_EXTRA));
}

export function grpcSend(token: u32, message: ArrayBuffer, endStream: bool): WasmResult {
  return <WasmResult>imp.proxy_grpc_send(token, ptr(message), len(message), endStream ? 1 : 0);
}

export function grpcCancel(token: u32): WasmResult {
  return <WasmResult>imp.proxy_grpc_cancel(token);
}

export function grpcClose(token: u32): WasmResult {
  return <WasmResult>imp.proxy_grpc_close(token);
}

/** Status code and message of the last gRPC callback (proxy_get_status). */
export class GrpcStatusResult {
  constructor(public status: WasmResult, public code: u32, public message: string) {}
}

export function getGrpcStatus(): GrpcStatusResult {
  clearReturn();
  const s = imp.proxy_get_status(RET_EXTRA, RET_PTR, RET_SIZE);
  const code = load<u32>(RET_EXTRA);
  const msg = takeReturned();
  return new GrpcStatusResult(<WasmResult>s, code, String.UTF8.decode(msg));
}

// ---- foreign functions -----------------------------------------------------------------------

export function callForeignFunction(name: string, args: ArrayBuffer): BytesResult {
  const n = String.UTF8.encode(name);
  clearReturn();
  return bytesResult(imp.proxy_call_foreign_function(ptr(n), len(n), ptr(args), len(args), RET_PTR, RET_SIZE));
}

/** call_foreign_function with a pre-encoded (UTF-8) name: no allocation for the name per call. */
export function callForeignFunctionBytes(name: ArrayBuffer, args: ArrayBuffer): BytesResult {
  clearReturn();
  return bytesResult(imp.proxy_call_foreign_function(ptr(name), len(name), ptr(args), len(args), RET_PTR, RET_SIZE));
}

/**
 * call_foreign_function by addresses, for calls whose result is not needed: whatever the host
 * returns is freed unread, so the call allocates nothing. The other discarding variants below
 * all end here.
 */
function callForeignFunctionDiscard(name: usize, nameSize: usize, args: usize, argsSize: usize): WasmResult {
  clearReturn();
  const s = imp.proxy_call_foreign_function(name, nameSize, args, argsSize, RET_PTR, RET_SIZE);
  const p = <usize>load<u32>(RET_PTR);
  if (p != 0) heap.free(p);
  return <WasmResult>s;
}

/** call_foreign_function with a pre-encoded (UTF-8) name, result discarded (callForeignFunctionDiscard). */
export function callForeignFunctionEncoded(name: ArrayBuffer, args: ArrayBuffer): WasmResult {
  return callForeignFunctionDiscard(ptr(name), len(name), ptr(args), len(args));
}

// Encoded on first use: a module-level initializer would run (and allocate) in the start
// function of every module built on this runtime, also of those that never call it.
let setEnvoyFilterStateName: ArrayBuffer | null = null;

/** "set_envoy_filter_state" in UTF-8, encoded once per VM. */
function envoyFilterStateName(): ArrayBuffer {
  let name = setEnvoyFilterStateName;
  if (name === null) {
    name = String.UTF8.encode("set_envoy_filter_state");
    setEnvoyFilterStateName = name;
  }
  return name;
}

/**
 * setEnvoyFilterState with arguments encoded once (encodeSetEnvoyFilterStateArguments), e.g. in
 * onConfigure: the per-connection call is then one host call and no allocation.
 */
export function setEnvoyFilterStateEncoded(args: ArrayBuffer): WasmResult {
  return setEnvoyFilterStateRaw(ptr(args), len(args));
}

/**
 * setEnvoyFilterStateEncoded with the encoded arguments given by address (kept alive by the
 * caller): no managed argument on the data path.
 */
export function setEnvoyFilterStateRaw(args: usize, size: usize): WasmResult {
  const name = envoyFilterStateName();
  return callForeignFunctionDiscard(ptr(name), len(name), args, size);
}

/**
 * Writes one of Envoy's own filter-state objects (e.g. `envoy.tcp_proxy.cluster`) through the
 * foreign function `set_envoy_filter_state` (Envoy source/extensions/common/wasm/foreign.cc):
 * NotFound when Envoy has no object factory for `path`, BadArgument when it rejects the value.
 */
export function setEnvoyFilterState(path: string, value: string, span: LifeSpan): WasmResult {
  return setEnvoyFilterStateEncoded(encodeSetEnvoyFilterStateArguments(path, value, span));
}
