/**
 * The host side of the ABI: every `env.proxy_*` import of proxy-wasm 0.2.1 and the
 * `wasi_snapshot_preview1` functions AssemblyScript may import. Return codes copy
 * proxy-wasm-cpp-host src/exports.cc and Envoy source/extensions/common/wasm/context.cc.
 */
import { randomFillSync } from "node:crypto";
import { BufferType, MapType, marshalPairs, StreamType, unmarshalPairs, WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import { FOREIGN_FUNCTIONS } from "./foreign.js";
import { getPropertyValue, setPropertyOwned } from "./properties.js";
import type { DataBuffer, HeaderList } from "./types.js";
import { ProcExit, type WasmVm } from "./vm.js";

const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();

/** Envoy Context::getMap: the maps a filter may modify. */
function getMap(ctx: Context, type: number): HeaderList | null {
  switch (type) {
    case MapType.HttpRequestHeaders:
      return ctx.requestHeaders;
    case MapType.HttpRequestTrailers:
      return ctx.requestTrailers;
    case MapType.HttpResponseHeaders:
      return ctx.responseHeaders;
    case MapType.HttpResponseTrailers:
      return ctx.responseTrailers;
    default:
      return null;
  }
}

/** Envoy Context::getConstMap: what a filter may read (call/gRPC responses from the root context). */
function getConstMap(ctx: Context, type: number): HeaderList | null {
  switch (type) {
    case MapType.HttpRequestHeaders:
      return ctx.accessLogPhase ? ctx.accessLogRequestHeaders : ctx.requestHeaders;
    case MapType.HttpRequestTrailers:
      return ctx.accessLogPhase ? null : ctx.requestTrailers;
    case MapType.HttpResponseHeaders:
      return ctx.accessLogPhase ? ctx.accessLogResponseHeaders : ctx.responseHeaders;
    case MapType.HttpResponseTrailers:
      return ctx.accessLogPhase ? ctx.accessLogResponseTrailers : ctx.responseTrailers;
    case MapType.GrpcReceiveInitialMetadata:
      return ctx.root.grpcInitialMetadata;
    case MapType.GrpcReceiveTrailingMetadata:
      return ctx.root.grpcTrailingMetadata;
    case MapType.HttpCallResponseHeaders:
      return ctx.root.httpCallResponse?.headers ?? null;
    case MapType.HttpCallResponseTrailers:
      return ctx.root.httpCallResponse?.trailers ?? null;
    default:
      return null;
  }
}

/** Context::onHeadersModified is a no-op for us; the data planes read the same arrays. */
function removeAll(map: HeaderList, key: string): void {
  let w = 0;
  for (let r = 0; r < map.length; r++) if (map[r][0] !== key) map[w++] = map[r];
  map.length = w;
}

/**
 * Buffer resolution (Envoy Context::getBuffer). Returns a mutable DataBuffer, a const byte
 * array, or NOT_FOUND; EMPTY_IMMUTABLE models Envoy's Buffer set to a null instance (size 0,
 * copyFrom → BadArgument).
 */
const NOT_FOUND = 0;
const MUTABLE = 1;
const CONST = 2;

interface BufferRef {
  kind: number;
  mut: DataBuffer | null;
  bytes: Uint8Array;
}

function resolveBuffer(ctx: Context, type: number, out: BufferRef): void {
  out.mut = null;
  out.bytes = EMPTY;
  out.kind = CONST;
  switch (type) {
    case BufferType.CallData:
      return;
    case BufferType.VmConfiguration:
      out.bytes = ctx.vm.plugin.vmConfiguration;
      return;
    case BufferType.PluginConfiguration: {
      const c = ctx.tempPluginConfiguration;
      if (c === null) out.kind = NOT_FOUND;
      else out.bytes = c;
      return;
    }
    case BufferType.HttpRequestBody: {
      mutable(out, ctx.bufferingRequestBody && ctx.httpCallbacks ? (ctx.httpCallbacks.decodingBuffer() ?? null) : ctx.requestBody);
      return;
    }
    case BufferType.HttpResponseBody: {
      mutable(out, ctx.bufferingResponseBody && ctx.httpCallbacks ? (ctx.httpCallbacks.encodingBuffer() ?? null) : ctx.responseBody);
      return;
    }
    case BufferType.NetworkDownstreamData:
      mutable(out, ctx.downstreamData);
      return;
    case BufferType.NetworkUpstreamData:
      mutable(out, ctx.upstreamData);
      return;
    case BufferType.HttpCallResponseBody: {
      const r = ctx.root.httpCallResponse;
      if (r) out.bytes = r.body;
      else out.kind = NOT_FOUND;
      return;
    }
    case BufferType.GrpcReceiveBuffer: {
      // buffer_.set(grpc_receive_buffer_.get()): a mutable Buffer::Instance, empty outside on_grpc_receive.
      const b = ctx.root.grpcReceiveBuffer;
      if (b) {
        out.kind = MUTABLE;
        out.mut = b;
        out.bytes = b.bytes;
      }
      return;
    }
    default:
      out.kind = NOT_FOUND;
  }
}

/** A stream buffer the filter may also write; an absent one stays as the caller preset it. */
function mutable(out: BufferRef, b: DataBuffer | null | undefined): void {
  if (!b) return;
  out.kind = MUTABLE;
  out.mut = b;
  out.bytes = b.bytes;
}

/** Envoy Buffer::copyFrom on a Buffer::Instance. */
function copyFrom(buf: DataBuffer, start: number, length: number, data: Uint8Array): WasmResult {
  const size = buf.bytes.length;
  if (start === 0) {
    if (length === 0) {
      buf.bytes = concat(data, buf.bytes);
      return WasmResult.Ok;
    }
    if (length >= size) {
      buf.bytes = data.slice();
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }
  if (start >= size) {
    buf.bytes = concat(buf.bytes, data);
    return WasmResult.Ok;
  }
  return WasmResult.BadArgument;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * HeaderMapImpl::addCopy → HeaderList::insert (envoy source/common/http/header_map_impl.h): a
 * pseudo header (":…") goes after the last pseudo header, before the first regular one; any
 * other header goes to the end. (Inline headers that already exist, which Envoy appends to with
 * ",", are not emulated.)
 */
function insertHeader(map: HeaderList, key: string, value: string): void {
  if (key.charCodeAt(0) === 58 /* ':' */) {
    for (let i = 0; i < map.length; i++) {
      if (map[i][0].charCodeAt(0) !== 58) {
        map.splice(i, 0, [key, value]);
        return;
      }
    }
  }
  map.push([key, value]);
}

function headerByteSize(map: HeaderList): number {
  let n = 0;
  for (const [k, v] of map) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** How an outgoing call's argument is read: a (pointer, size) region as a string, copied bytes or pairs; or a u32. */
type ArgumentKind = "string" | "bytes" | "pairs" | "u32";
type ArgumentValue<K extends ArgumentKind> = K extends "string"
  ? string
  : K extends "bytes"
    ? Uint8Array
    : K extends "pairs"
      ? Array<[string, string]>
      : number;

/** proxy_http_call(uri, headers, body, trailers, timeout_ms, token_ptr) (proxy-wasm ABI 0.2.1). */
const HTTP_CALL_ARGS = ["string", "pairs", "bytes", "pairs", "u32", "u32"] as const;
/** proxy_grpc_call(service, service_name, method, initial_metadata, request, timeout_ms, token_ptr). */
const GRPC_CALL_ARGS = ["bytes", "string", "string", "pairs", "bytes", "u32", "u32"] as const;

/**
 * The one reader of outgoing calls' arguments (http_call, grpc_call), in ABI order. Bytes are
 * copied: the call outlives this host call, and module memory may change or grow meanwhile.
 * null when a region lies outside module memory: the caller answers InvalidMemoryAccess, as
 * cpp-host does for any argument it cannot read.
 */
function readCallArguments<const K extends readonly ArgumentKind[]>(
  vm: WasmVm,
  raw: readonly number[],
  kinds: K,
): { -readonly [I in keyof K]: ArgumentValue<K[I]> } | null {
  const out: unknown[] = [];
  let next = 0;
  const word = (): number => (raw[next++] ?? 0) >>> 0;
  for (const kind of kinds) {
    if (kind === "u32") {
      out.push(word());
      continue;
    }
    const ptr = word();
    const size = word();
    const value = kind === "string" ? vm.string(ptr, size) : kind === "bytes" ? vm.copyOut(ptr, size) : vm.slice(ptr, size);
    if (value === null) return null;
    out.push(kind === "pairs" ? unmarshalPairs(value as Uint8Array) : value);
  }
  return out as { -readonly [I in keyof K]: ArgumentValue<K[I]> };
}

export function buildImports(vm: WasmVm): WebAssembly.Imports {
  const ref: BufferRef = { kind: 0, mut: null, bytes: EMPTY };
  const host = vm.host;

  const env = {
    // ------------------------------------------------------------ logging, time
    proxy_log(level: number, ptr: number, size: number): number {
      if (level >>> 0 > 5) return WasmResult.BadArgument;
      const ctx = vm.context();
      if (level < vm.plugin.logLevel) {
        return vm.inBounds(ptr, size) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      }
      const msg = vm.string(ptr, size);
      if (msg === null) return WasmResult.InvalidMemoryAccess;
      vm.log(level, msg, ctx.id);
      return WasmResult.Ok;
    },
    proxy_get_log_level(ptr: number): number {
      return vm.setU32(ptr, vm.plugin.logLevel) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      return vm.setU64(ptr, nowNanos()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_tick_period_milliseconds(ms: number): number {
      // ContextBase::setTimerPeriod: always on the root context of the (effective) context.
      vm.setTimerPeriod(vm.context().root.id, ms >>> 0);
      return WasmResult.Ok;
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
      const root = vm.context().root;
      if (!vm.setU32(codePtr, root.statusCode)) return WasmResult.InvalidMemoryAccess;
      return vm.copyToPointerSize(enc.encode(root.statusMessage), ptrPtr, sizePtr);
    },
    proxy_get_configuration(ptrPtr: number, sizePtr: number): number {
      const ctx = vm.context();
      return vm.copyToPointerSize(ctx.tempPluginConfiguration ?? vm.plugin.vmConfiguration, ptrPtr, sizePtr);
    },

    // ------------------------------------------------------------ properties
    proxy_get_property(pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number): number {
      const path = vm.key(pathPtr, pathSize);
      if (path === null) return WasmResult.InvalidMemoryAccess;
      const value = getPropertyValue(vm.context(), path);
      if (typeof value === "number") return value;
      return vm.copyToPointerSize(value, ptrPtr, sizePtr);
    },
    proxy_set_property(keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      const key = vm.key(keyPtr, keySize);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      // The filter state owns its bytes: copy straight out of memory (no view in between).
      const value = vm.copyOut(valuePtr, valueSize);
      if (value === null) return WasmResult.InvalidMemoryAccess;
      return setPropertyOwned(vm.context(), key, value);
    },

    // ------------------------------------------------------------ stream control
    proxy_continue_stream(type: number): number {
      if (type >>> 0 > StreamType.Max) return WasmResult.BadArgument;
      return continueStream(vm.context(), type);
    },
    proxy_close_stream(type: number): number {
      if (type >>> 0 > StreamType.Max) return WasmResult.BadArgument;
      return closeStream(vm.context(), type);
    },
    proxy_continue_request(): number {
      return continueStream(vm.context(), StreamType.Request);
    },
    proxy_continue_response(): number {
      return continueStream(vm.context(), StreamType.Response);
    },
    proxy_send_local_response(
      code: number,
      detailsPtr: number,
      detailsSize: number,
      bodyPtr: number,
      bodySize: number,
      headersPtr: number,
      headersSize: number,
      grpcStatus: number,
    ): number {
      const details = vm.string(detailsPtr, detailsSize);
      const body = vm.copyOut(bodyPtr, bodySize);
      const headerBytes = vm.slice(headersPtr, headersSize);
      if (details === null || body === null || headerBytes === null) return WasmResult.InvalidMemoryAccess;
      const headers = unmarshalPairs(headerBytes).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
      const ctx = vm.context();
      const cb = ctx.httpCallbacks;
      if (cb) {
        const status = code >>> 0;
        // Grpc::Status: -1 (or anything outside 0..16) means "no grpc-status".
        const grpc = grpcStatus | 0;
        vm.addAfterVmCallAction(() =>
          cb.sendLocalReply({
            status,
            body,
            headers,
            details: details.replace(/\s/g, "_"),
            grpcStatus: grpc >= 0 && grpc <= 16 ? grpc : -1,
          }),
        );
      }
      vm.stopNextIteration = true;
      return WasmResult.Ok;
    },
    proxy_clear_route_cache(): number {
      return WasmResult.Ok;
    },
    proxy_set_effective_context(id: number): number {
      return vm.setEffectiveContext(id >>> 0);
    },
    proxy_done(): number {
      // WasmBase::done: only a root context with a pending on_done=false may finish.
      return vm.done();
    },

    // ------------------------------------------------------------ foreign functions
    proxy_call_foreign_function(
      namePtr: number,
      nameSize: number,
      argsPtr: number,
      argsSize: number,
      resultsPtr: number,
      resultsSizePtr: number,
    ): number {
      const name = vm.key(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      // A view: foreign functions run without calling into the module, and keep copies of what they store.
      const args = vm.slice(argsPtr, argsSize);
      if (args === null) return WasmResult.InvalidMemoryAccess;
      const f = FOREIGN_FUNCTIONS.get(name);
      if (!f) return WasmResult.NotFound;
      const r = f(vm.context(), args, vm.rawKey(argsPtr, argsSize) ?? undefined);
      const data = r.data ?? EMPTY;
      let address = 0;
      if (r.data !== undefined && resultsPtr !== 0) {
        address = vm.alloc(data.length);
        if (address !== 0) vm.setBytes(address, data);
      }
      if (resultsPtr !== 0 && !vm.setU32(resultsPtr, address)) return WasmResult.InvalidMemoryAccess;
      if (resultsSizePtr !== 0 && !vm.setU32(resultsSizePtr, r.data ? data.length : 0)) {
        return WasmResult.InvalidMemoryAccess;
      }
      return r.result;
    },

    // ------------------------------------------------------------ shared data and queues
    proxy_get_shared_data(keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number, casPtr: number): number {
      const key = vm.string(keyPtr, keySize);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      const e = host.sharedData.get(vm.plugin.vmId, key);
      if (!e) return WasmResult.NotFound;
      const r = vm.copyToPointerSize(e.value, ptrPtr, sizePtr);
      if (r !== WasmResult.Ok) return r;
      return vm.setU32(casPtr, e.cas) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
      const key = vm.string(keyPtr, keySize);
      const value = vm.slice(valuePtr, valueSize);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      return host.sharedData.set(vm.plugin.vmId, key, value, cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      const name = vm.string(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      // on_queue_ready goes to the root context even when a stream context registers.
      const root = vm.context().root;
      const token = host.sharedQueues.register(vm.plugin.vmId, name, queueOwner(vm), root.id);
      return vm.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue(
      vmIdPtr: number,
      vmIdSize: number,
      namePtr: number,
      nameSize: number,
      tokenPtr: number,
    ): number {
      const vmId = vm.string(vmIdPtr, vmIdSize);
      const name = vm.string(namePtr, nameSize);
      if (vmId === null || name === null) return WasmResult.InvalidMemoryAccess;
      const token = host.sharedQueues.resolve(vmId === "" ? vm.plugin.vmId : vmId, name);
      if (vm.failed || token === 0) return WasmResult.NotFound;
      return vm.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
      const r = host.sharedQueues.dequeue(token >>> 0);
      if (r.result !== WasmResult.Ok) return r.result;
      return vm.copyToPointerSize(r.value!, ptrPtr, sizePtr);
    },
    proxy_enqueue_shared_queue(token: number, ptr: number, size: number): number {
      const data = vm.slice(ptr, size);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      return host.sharedQueues.enqueue(token >>> 0, data);
    },

    // ------------------------------------------------------------ header maps
    proxy_add_header_map_value(type: number, kPtr: number, kSize: number, vPtr: number, vSize: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const k = vm.string(kPtr, kSize);
      const v = vm.string(vPtr, vSize);
      if (k === null || v === null) return WasmResult.InvalidMemoryAccess;
      const map = getMap(vm.context(), type);
      if (!map) return WasmResult.BadArgument;
      insertHeader(map, k.toLowerCase(), v);
      return WasmResult.Ok;
    },
    proxy_get_header_map_value(type: number, kPtr: number, kSize: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const k = vm.string(kPtr, kSize);
      if (k === null) return WasmResult.InvalidMemoryAccess;
      const ctx = vm.context();
      const map = getConstMap(ctx, type);
      if (!map) return ctx.accessLogPhase ? WasmResult.NotFound : WasmResult.BadArgument;
      const key = k.toLowerCase();
      for (const [hk, hv] of map) {
        if (hk === key) return vm.copyToPointerSize(enc.encode(hv), ptrPtr, sizePtr);
      }
      return WasmResult.NotFound;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      // getHeaderMapPairs: a missing map is an empty list, Ok.
      const map = getConstMap(vm.context(), type);
      if (!map || map.length === 0) return vm.copyToPointerSize(EMPTY, ptrPtr, sizePtr);
      return vm.copyToPointerSize(marshalPairs(map), ptrPtr, sizePtr);
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const data = vm.slice(ptr, size);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      const map = getMap(vm.context(), type);
      if (!map) return WasmResult.BadArgument;
      const pairs = unmarshalPairs(data);
      map.length = 0;
      for (const [k, v] of pairs) insertHeader(map, k.toLowerCase(), v);
      return WasmResult.Ok;
    },
    proxy_replace_header_map_value(type: number, kPtr: number, kSize: number, vPtr: number, vSize: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const k = vm.string(kPtr, kSize);
      const v = vm.string(vPtr, vSize);
      if (k === null || v === null) return WasmResult.InvalidMemoryAccess;
      const map = getMap(vm.context(), type);
      if (!map) return WasmResult.BadArgument;
      // HeaderMapImpl::setCopy is remove(key) + addCopy(key, value) since Envoy dropped the
      // http_set_copy_replace_all_headers guard: every entry goes and the new one is inserted
      // anew (at the end, or after the pseudo headers), not in the old entry's place.
      const key = k.toLowerCase();
      removeAll(map, key);
      insertHeader(map, key, v);
      return WasmResult.Ok;
    },
    proxy_remove_header_map_value(type: number, kPtr: number, kSize: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const k = vm.string(kPtr, kSize);
      if (k === null) return WasmResult.InvalidMemoryAccess;
      const map = getMap(vm.context(), type);
      if (!map) return WasmResult.BadArgument;
      removeAll(map, k.toLowerCase());
      return WasmResult.Ok;
    },
    proxy_get_header_map_size(type: number, ptr: number): number {
      if (type >>> 0 > MapType.Max) return WasmResult.BadArgument;
      const map = getMap(vm.context(), type);
      if (!map) return WasmResult.BadArgument;
      return vm.setU32(ptr, headerByteSize(map)) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    // ------------------------------------------------------------ buffers
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > BufferType.Max) return WasmResult.BadArgument;
      resolveBuffer(vm.context(), type, ref);
      if (ref.kind === NOT_FOUND) return WasmResult.NotFound;
      // Words are 64-bit in cpp-host, so its `start > start + length` overflow check never fires for u32 inputs.
      start >>>= 0;
      length >>>= 0;
      const size = ref.bytes.length;
      if (start > size) length = 0;
      else if (start + length > size) length = size - start;
      if (length === 0) {
        if (!vm.setU32(ptrPtr, 0) || !vm.setU32(sizePtr, 0)) return WasmResult.InvalidMemoryAccess;
        return WasmResult.Ok;
      }
      return vm.copyRangeToPointerSize(ref.bytes, start, start + length, ptrPtr, sizePtr);
    },
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      if (type >>> 0 > BufferType.Max) return WasmResult.BadArgument;
      resolveBuffer(vm.context(), type, ref);
      if (ref.kind === NOT_FOUND) return WasmResult.NotFound;
      if (!vm.setU32(lengthPtr, ref.bytes.length)) return WasmResult.InvalidMemoryAccess;
      return vm.setU32(flagsPtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, ptr: number, size: number): number {
      if (type >>> 0 > BufferType.Max) return WasmResult.BadArgument;
      resolveBuffer(vm.context(), type, ref);
      if (ref.kind === NOT_FOUND) return WasmResult.NotFound;
      const data = vm.slice(ptr, size);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      // Const buffers (configuration, call responses) and absent stream buffers are immutable.
      if (ref.kind !== MUTABLE || !ref.mut) return WasmResult.BadArgument;
      return copyFrom(ref.mut, start >>> 0, length >>> 0, data);
    },

    // ------------------------------------------------------------ metrics
    proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
      const name = vm.key(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      const r = vm.metrics.define(type >>> 0, name);
      if (r.result !== WasmResult.Ok) return r.result;
      return vm.setU32(idPtr, r.id) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, offset: bigint): number {
      // An i64 parameter arrives as a BigInt already in int64 range; anything else is converted.
      return vm.metrics.increment(id >>> 0, typeof offset === "bigint" ? offset : BigInt.asIntN(64, BigInt(offset)));
    },
    proxy_record_metric(id: number, value: bigint): number {
      return vm.metrics.record(id >>> 0, BigInt.asUintN(64, BigInt(value)));
    },
    proxy_get_metric(id: number, ptr: number): number {
      const r = vm.metrics.get(id >>> 0);
      if (r.result !== WasmResult.Ok) return r.result;
      return vm.setU64(ptr, r.value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    // ------------------------------------------------------------ calls out
    proxy_http_call(...raw: number[]): number {
      const args = readCallArguments(vm, raw, HTTP_CALL_ARGS);
      if (args === null) return WasmResult.InvalidMemoryAccess;
      const [uri, headers, body, trailers, timeout, tokenPtr] = args;
      if (!vm.setU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess;
      const r = host.calls.httpCall(vm.context().root, uri, headers, body, trailers, timeout);
      vm.setU32(tokenPtr, r.token);
      return r.result;
    },
    proxy_grpc_call(...raw: number[]): number {
      const args = readCallArguments(vm, raw, GRPC_CALL_ARGS);
      if (args === null) return WasmResult.InvalidMemoryAccess;
      const [service, serviceName, method, metadata, request, timeout, tokenPtr] = args;
      const r = host.calls.grpcCall(vm.context().root, service, serviceName, method, metadata, request, timeout);
      if (r.result !== WasmResult.Ok) return r.result;
      return vm.setU32(tokenPtr, r.token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_grpc_stream(): number {
      // Streaming gRPC is not emulated.
      return WasmResult.Unimplemented;
    },
    proxy_grpc_send(): number {
      return WasmResult.Unimplemented;
    },
    proxy_grpc_cancel(token: number): number {
      return host.calls.cancel(vm.context().root, token >>> 0);
    },
    proxy_grpc_close(token: number): number {
      return host.calls.cancel(vm.context().root, token >>> 0);
    },

    // ------------------------------------------------------------ tolerated non-proxy imports
    /** AssemblyScript's default abort: treated as proc_exit(255). */
    abort(): void {
      throw new ProcExit(255);
    },
    seed(): number {
      return Date.now() * Math.random();
    },
    trace(): void {},
  };

  const wasi = {
    proc_exit(code: number): void {
      throw new ProcExit(code);
    },
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      let level: number;
      if (fd === 1) level = 2;
      else if (fd === 2) level = 4;
      else return 8; // EBADF
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const base = vm.getU32(iovs + i * 8);
        const len = vm.getU32(iovs + i * 8 + 4);
        if (base === null || len === null) return 21; // EFAULT
        if (len === 0) continue;
        const s = vm.copyOut(base, len);
        if (s === null) return 21;
        parts.push(s);
        total += len;
      }
      if (total > 0) {
        let s = Buffer.concat(parts).toString("utf8");
        if (s.endsWith("\n")) s = s.slice(0, -1);
        if (level >= vm.plugin.logLevel) vm.log(level, s, vm.context().id);
      }
      return vm.setU32(nwrittenPtr, total) ? 0 : 21;
    },
    clock_time_get(clockId: number, _precision: bigint, ptr: number): number {
      let t: bigint;
      if (clockId === 0) t = nowNanos();
      else if (clockId === 1) t = process.hrtime.bigint();
      else return 58; // ENOTSUP
      return vm.setU64(ptr, t) ? 0 : 21;
    },
    clock_res_get(clockId: number, ptr: number): number {
      if (clockId !== 0 && clockId !== 1) return 58;
      return vm.setU64(ptr, 1n) ? 0 : 21;
    },
    random_get(ptr: number, len: number): number {
      if (len > 65536) return 28; // EINVAL
      if (len === 0) return 0;
      const dst = vm.slice(ptr, len);
      if (dst === null) return 21;
      randomFillSync(dst);
      return 0;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      return vm.setU32(countPtr, 0) && vm.setU32(sizePtr, 0) ? 0 : 21;
    },
    environ_get(): number {
      return 0;
    },
    args_sizes_get(argcPtr: number, sizePtr: number): number {
      return vm.setU32(argcPtr, 0) && vm.setU32(sizePtr, 0) ? 0 : 21;
    },
    args_get(): number {
      return 0;
    },
    fd_close(): number {
      return 0;
    },
    fd_seek(): number {
      return 0;
    },
    fd_read(): number {
      return 52; // ENOSYS
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      if (fd !== 1 && fd !== 2) return 8;
      const b = new Uint8Array(24);
      b[8] = 64; // fs_rights_base = FD_WRITE
      return vm.setBytes(ptr, b) ? 0 : 21;
    },
    fd_prestat_get(): number {
      return 8;
    },
    fd_prestat_dir_name(): number {
      return 52;
    },
    sched_yield(): number {
      return 0;
    },
    poll_oneoff(_in: number, _out: number, _n: number, neventsPtr: number): number {
      return vm.setU32(neventsPtr, 0) ? 0 : 21;
    },
  };

  return { env, wasi_snapshot_preview1: wasi, wasi_unstable: wasi };
}

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

const owners = new WeakMap<WasmVm, { post(contextId: number, token: number): void }>();

/** SharedQueue's call_on_thread: dispatcher.post to the registering VM, then onQueueReady. */
function queueOwner(vm: WasmVm) {
  let o = owners.get(vm);
  if (!o) {
    o = {
      post(contextId: number, token: number) {
        setImmediate(() => {
          const ctx = vm.contexts.get(contextId);
          if (ctx && !vm.failed) vm.invoke(ctx, "proxy_on_queue_ready", token);
        });
      },
    };
    owners.set(vm, o);
  }
  return o;
}

/** Context::continueStream: deferred until the VM call returns (reentrancy). */
function continueStream(ctx: Context, type: number): WasmResult {
  const vm = ctx.vm;
  switch (type) {
    case StreamType.Request: {
      const cb = ctx.httpCallbacks;
      if (cb) vm.addAfterVmCallAction(() => cb.continueDecoding());
      break;
    }
    case StreamType.Response: {
      const cb = ctx.httpCallbacks;
      if (cb) vm.addAfterVmCallAction(() => cb.continueEncoding());
      break;
    }
    case StreamType.Downstream: {
      const cb = ctx.readCallbacks;
      if (cb) vm.addAfterVmCallAction(() => cb.continueReading());
      return WasmResult.Ok;
    }
    case StreamType.Upstream:
      return WasmResult.Unimplemented;
    default:
      return WasmResult.BadArgument;
  }
  // Envoy clears the request pointers after continuing a Request or Response stream.
  ctx.requestHeaders = null;
  ctx.requestBody = null;
  ctx.requestTrailers = null;
  return WasmResult.Ok;
}

/** Context::closeStream: HTTP → resetStream, TCP (either direction) → connection close(FlushWrite). */
function closeStream(ctx: Context, type: number): WasmResult {
  const vm = ctx.vm;
  switch (type) {
    case StreamType.Request:
    case StreamType.Response: {
      const cb = ctx.httpCallbacks;
      if (cb) {
        if (cb.streamInfo.responseCodeDetails === undefined) cb.streamInfo.responseCodeDetails = "wasm_close_stream";
        vm.addAfterVmCallAction(() => cb.resetStream?.());
      }
      return WasmResult.Ok;
    }
    case StreamType.Downstream:
    case StreamType.Upstream: {
      const cb = ctx.readCallbacks;
      if (cb) vm.addAfterVmCallAction(() => cb.closeConnection());
      return WasmResult.Ok;
    }
  }
  return WasmResult.BadArgument;
}
