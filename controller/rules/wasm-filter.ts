/**
 * The protomesh wasm network filter of each RPC protocol, rendered from a rule set for one
 * deployment: what `render rules --istio` places before tcp_proxy or the native proxy.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import type { WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import type { RpcDeployment, RpcProtocol } from "../istio/rpc-envoy-filter.js";
import type { ThriftProtocol, ThriftTransport } from "../thrift/filter.js";
import { dubboWasmFilter } from "../dubbo/standalone.js";
import { thriftWasmFilter } from "../thrift/standalone.js";
import type { ThriftWasmProtocol, ThriftWasmTransport } from "../thrift/wasm-config.js";
import type { LoadedRuleSet } from "./load.js";

export interface RpcWasmFilterProps {
  /** The rule set, its clusters already the ones the filter must name (e.g. Istio's). */
  readonly rules: LoadedRuleSet;
  readonly deployment: RpcDeployment;
  /** Folder holding `<protocol>.wasm` as Envoy sees it. */
  readonly wasmDir: string;
  /** @default the filter's (FAIL_RELOAD: skipped, it would let refused calls through) */
  readonly failurePolicy?: WasmFailurePolicy;
  /** Thrift: the transport the native proxy is configured with; the filter decodes the same. @default "auto" in the filter */
  readonly thriftTransport?: ThriftTransport;
  /** Thrift: the protocol the native proxy is configured with. @default "auto" in the filter */
  readonly thriftProtocol?: ThriftProtocol;
}

export type RpcWasmFilterFactory = (props: RpcWasmFilterProps) => NetworkFilter;

const THRIFT_WASM_TRANSPORT: Readonly<Record<ThriftTransport, ThriftWasmTransport>> = {
  AUTO_TRANSPORT: "auto", FRAMED: "framed", HEADER: "header", UNFRAMED: "unframed",
};
const THRIFT_WASM_PROTOCOL: Readonly<Record<ThriftProtocol, ThriftWasmProtocol>> = {
  AUTO_PROTOCOL: "auto", BINARY: "binary", COMPACT: "compact", LAX_BINARY: "lax_binary",
};

/** The filter of each protocol. */
export const RPC_WASM_FILTERS: Readonly<Record<RpcProtocol, RpcWasmFilterFactory>> = {
  dubbo: (p) => dubboWasmFilter({ failurePolicy: p.failurePolicy, routing: p.deployment, rules: p.rules, wasmDir: p.wasmDir }),
  thrift: (p) =>
    thriftWasmFilter({
      failurePolicy: p.failurePolicy,
      protocol: p.thriftProtocol === undefined ? undefined : THRIFT_WASM_PROTOCOL[p.thriftProtocol],
      routing: p.deployment,
      rules: p.rules,
      transport: p.thriftTransport === undefined ? undefined : THRIFT_WASM_TRANSPORT[p.thriftTransport],
      wasmDir: p.wasmDir,
    }),
};

/** The protocol's wasm filter. */
export function rpcWasmFilter(protocol: RpcProtocol, props: RpcWasmFilterProps): NetworkFilter {
  return RPC_WASM_FILTERS[protocol](props);
}
