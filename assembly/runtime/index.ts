/*
 * protomesh proxy-wasm ABI 0.2.1 layer for AssemblyScript 0.27 (minimal runtime, see gc.ts).
 *
 * A filter's index.ts:
 *
 *   import { RootContext, Context, registerRootContext, Action, logInfo } from "../../runtime";
 *   export * from "../../runtime/exports";   // proxy_on_*, malloc, free, proxy_abi_version_0_2_1
 *
 *   class MyRoot extends RootContext {
 *     onConfigure(size: u32): bool { const cfg = this.getConfiguration(); ...; return true; }
 *     createContext(id: u32): Context { return new MyStream(id, this); }
 *   }
 *   class MyStream extends Context {
 *     onDownstreamData(size: u32, eos: bool): Action { return Action.Continue; }
 *   }
 *   registerRootContext((id: u32) => new MyRoot(id), "my-filter");   // root id = folder name
 *
 * Contexts: RootContext (onVmStart, onConfigure, onTick, onQueueReady, onForeignFunction,
 * createContext) and Context (onNewConnection, onDownstreamData, onUpstreamData,
 * onDownstreamConnectionClose, onUpstreamConnectionClose, onRequestHeaders/Body/Trailers,
 * onResponseHeaders/Body/Trailers). Both have onDone (return false to finish later with done()),
 * onLog, onDelete, onHttpCallResponse, onGrpcReceiveInitialMetadata, onGrpcReceive,
 * onGrpcReceiveTrailingMetadata, onGrpcClose. Envoy delivers http/gRPC call callbacks to the
 * root context.
 *
 * Host calls (hostcalls.ts) return WasmResult, or a result object with `status`, `ok` and the
 * value (BytesResult.value: ArrayBuffer, U32Result.value, U64Result.value, SharedDataResult
 * {value, cas}, HeadersResult.pairs). Nothing throws or aborts; the only abort is abort.ts
 * (log at critical + proc_exit(255)), reached from AssemblyScript's own `abort`.
 *   log(level, msg), logTrace…logCritical, getLogLevel
 *   getProperty(["source", "address"]), setProperty(segments, bytes), get/setPropertyBytes,
 *     setPropertyFrom(path, ptr, len) (a value already in memory, no copy)
 *   getBuffer(type), getBufferBytes(type, start, max), setBufferBytes(type, start, size, data),
 *     getBufferBytesInto(type, start, max, dst, dstOffset) (no allocation: copies into dst),
 *     getBufferStatus(type), getPluginConfiguration(), getVmConfiguration()
 *   getHeaderMapPairs/setHeaderMapPairs/getHeaderMapValue/addHeaderMapValue/
 *     replaceHeaderMapValue/removeHeaderMapValue/getHeaderMapSize(MapType, ...)
 *   continueStream(StreamType), closeStream(StreamType), sendLocalResponse(...)
 *   setEffectiveContext(id), setTickPeriodMilliseconds(ms), getCurrentTimeNanoseconds(), done()
 *   Metric.define(MetricType, name) → .id (opaque; 0 is valid), .increment(n), .record(v), .get();
 *     defineMetric/incrementMetric/recordMetric/getMetric
 *   getSharedData(key) → {value, cas}, setSharedData(key, bytes, cas)
 *   registerSharedQueue, resolveSharedQueue, enqueueSharedQueue, dequeueSharedQueue
 *   httpCall(cluster, headers, body, trailers, timeoutMs) → token
 *   grpcCall/grpcStream/grpcSend/grpcCancel/grpcClose, getGrpcStatus
 *   callForeignFunction(name, args), setEnvoyFilterState(path, value, LifeSpan);
 *     callForeignFunctionEncoded(nameBytes, args) and setEnvoyFilterStateEncoded(args) for the
 *     data path (pre-encoded, result discarded, no allocation)
 * Pure helpers: serializePairs/deserializePairs (pairs.ts), joinPath (path.ts), ProtoWriter,
 * encodeSetEnvoyFilterStateArguments (protobuf.ts), json/ (strict JSON reader).
 *
 * Performance: contexts live in open-addressed tables keyed by context id (table.ts); a data
 * callback is one lookup + one virtual call, and host return values use static scratch slots.
 */
export * from "./enums";
export * from "./pairs";
export * from "./path";
export * from "./protobuf";
export * from "./hostcalls";
export * from "./context";
