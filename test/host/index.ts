/** Public surface of the host emulator. */
export { Host, type HostOptions, type LoadPluginOptions } from "./host.js";
export { Plugin, PluginLoadError } from "./plugin.js";
export { WasmVm, type PluginSpec } from "./vm.js";
export { WasmNetworkFilter, WasmHttpFilter } from "./wasm-filter.js";
export { LogStore, type LogEntry } from "./logs.js";
export { CUSTOM_STAT_NAMESPACE, type StatSnapshot } from "./metrics.js";
export { WasmResult, BufferType, MapType, StreamType, MetricType, PeerType, marshalPairs, unmarshalPairs } from "./abi.js";
export { encodeSetFilterStateArgs, OBJECT_FACTORIES } from "./foreign.js";
export { formatAddress } from "./properties.js";
export * from "./types.js";
export { ENVOY_VERSIONS, DEFAULT_ENVOY_VERSION, envoyBehaviour, type EnvoyVersion, type EnvoyBehaviour } from "./envoy-version.js";
export { CORE_RESPONSE_FLAGS, RESPONSE_FLAG_SHORT, legacyResponseFlags, toShortString, type CoreResponseFlag } from "./response-flags.js";
