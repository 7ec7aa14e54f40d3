// Enumerations of proxy-wasm ABI 0.2.1 (proxy-wasm/spec abi-versions/v0.2.1/README.md,
// proxy-wasm-cpp-sdk proxy_wasm_enums.h, proxy-wasm-cpp-host include/proxy-wasm/wasm_api_impl.h).
// Values are fixed by the ABI; `Max` is the SDK's MAX (the largest valid value, what the host
// checks arguments against).
//
// The one source for both sides: the modules compile this file as AssemblyScript and the host
// emulator imports it as TypeScript (test/host/abi.ts), so it uses only syntax both accept
// (plain enums, no AssemblyScript-only types). test/host/abi-enums.test.ts pins the values.

export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

export enum Action {
  Continue = 0,
  Pause = 1,
}

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  NetworkDownstreamData = 2,
  NetworkUpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
  Max = 8,
}

export enum MapType {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
  Max = 7,
}

export enum StreamType {
  Request = 0,
  Response = 1,
  Downstream = 2,
  Upstream = 3,
  Max = 3,
}

export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
  Max = 2,
}

export enum PeerType {
  Unknown = 0,
  Local = 1,
  Remote = 2,
}

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** Envoy StreamInfo::FilterState::LifeSpan as used by `set_envoy_filter_state`. */
export enum LifeSpan {
  FilterChain = 0,
  DownstreamRequest = 1,
  DownstreamConnection = 2,
}

/** gRPC status code Ok; other codes arrive as numbers in onGrpcClose. */
export const GRPC_STATUS_OK = 0;
