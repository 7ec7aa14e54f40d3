/**
 * The protomesh wasm network filter of each RPC protocol, rendered from a rule set for one
 * deployment: what `render rules --istio` places before tcp_proxy or the native proxy. One entry
 * per protocol; a protocol whose filter configuration is not rendered here yet has none, and the
 * command says so instead of rendering half a deployment.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import type { WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import type { RpcDeployment, RpcProtocol } from "../istio/rpc-envoy-filter.js";
import type { ThriftProtocol, ThriftTransport } from "../thrift/filter.js";
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

/**
 * The filter of each protocol. Dubbo's configuration renderer (controller/dubbo/wasm-config.ts)
 * plugs in here: `dubbo: (p) => dubboWasmFilter({ rules: p.rules, routing: p.deployment, … })`.
 */
export const RPC_WASM_FILTERS: Readonly<Record<RpcProtocol, RpcWasmFilterFactory | undefined>> = {
  dubbo: undefined,
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

/** The protocol's wasm filter, or an error saying it is not rendered yet. */
export function rpcWasmFilter(protocol: RpcProtocol, props: RpcWasmFilterProps): NetworkFilter {
  const factory = RPC_WASM_FILTERS[protocol];
  if (factory === undefined) {
    throw new Error(
      `the ${protocol} wasm filter's configuration is not rendered by this build, and an Istio deployment without it would route ` +
        `but never enforce policy or faults; render the ${protocol}_proxy route table alone with --route-config-only`,
    );
  }
  return factory(props);
}
