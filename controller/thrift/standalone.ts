/**
 * Standalone Envoy for the two Thrift deployments of one rule set:
 *
 * - per connection: listener → thrift wasm filter → tcp_proxy (IMMEDIATE + max_early_data_bytes,
 *   controller/rules/per-connection.ts; its `cluster` serves connections no routing rule matches). The filter picks the
 *   cluster from the first call of each connection.
 * - per request: listener → thrift wasm filter (policy, telemetry) → thrift_proxy (filter.ts), which
 *   routes every call by the same rules (route-config.ts).
 */
import type { BootstrapProps, SocketAddressProps } from "../envoy/bootstrap.js";
import type { NetworkFilter } from "../envoy/network-filter.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import type { LoadedRuleSet } from "../rules/load.js";
import { perConnectionBootstrapProps } from "../rules/per-connection.js";
import { rpcStatsTags } from "../telemetry/stats-tags.js";
import { perRequestBootstrapProps } from "../rules/per-request.js";
import { thriftProxyFilter, type ThriftProtocol, type ThriftTransport } from "./filter.js";
import { thriftWasmConfiguration, type ThriftWasmConfigProps } from "./wasm-config.js";

/** Folder name under assembly/filters, root id and .wasm base name. */
export const THRIFT_FILTER_NAME = "thrift";

export interface ThriftWasmFilterProps extends ThriftWasmConfigProps {
  /** Folder holding thrift.wasm as Envoy sees it. @default "/etc/envoy/wasm" */
  readonly wasmDir?: string;
  /**
   * FAIL_RELOAD: skipped, the filter would let denied calls through and write no cluster, so a
   * failed VM closes connections until Envoy reloads it (as the sniffer's route mode does).
   * @default "FAIL_RELOAD"
   */
  readonly failurePolicy?: WasmFailurePolicy;
}

export function thriftWasmFilter(props: ThriftWasmFilterProps): NetworkFilter {
  return wasmNetworkFilter({
    configuration: thriftWasmConfiguration(props),
    failurePolicy: props.failurePolicy ?? "FAIL_RELOAD",
    name: THRIFT_FILTER_NAME,
    wasmPath: `${(props.wasmDir ?? "/etc/envoy/wasm").replace(/\/+$/, "")}/${THRIFT_FILTER_NAME}.wasm`,
  });
}

export interface ThriftStandaloneProps extends ThriftWasmFilterProps {
  /** Endpoints per cluster name. @default `<cluster name>:<defaultPort>` */
  readonly endpoints?: Readonly<Record<string, readonly SocketAddressProps[]>>;
  /** @default 9090 */
  readonly defaultPort?: number;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /** @default { address: "127.0.0.1", port: 9901 } */
  readonly admin?: BootstrapProps["admin"];
}

/** Per connection: the cluster of connections no rule routes. @default "thrift-default" */
export interface ThriftPerConnectionProps extends ThriftStandaloneProps {
  readonly defaultCluster?: string;
  /** @default 16384 (controller/rules/per-connection.ts) */
  readonly maxEarlyDataBytes?: number;
}

export function thriftPerConnectionBootstrapProps(props: ThriftPerConnectionProps): BootstrapProps {
  const bootstrapProps = perConnectionBootstrapProps({
    ...props,
    protocol: "thrift",
    filter: thriftWasmFilter(props),
    defaultCluster: props.defaultCluster ?? "thrift-default",
    defaultPort: props.defaultPort ?? 9090,
  });
  return { ...bootstrapProps, statsTags: rpcStatsTags(props.telemetry) };
}

export interface ThriftPerRequestProps extends ThriftStandaloneProps {
  /** thrift_proxy's transport. @default "FRAMED" */
  readonly proxyTransport?: ThriftTransport;
  /** thrift_proxy's protocol. @default "BINARY" */
  readonly proxyProtocol?: ThriftProtocol;
}

/** Per request: the wasm filter in front of thrift_proxy, both from the same rules. */
export function thriftPerRequestBootstrapProps(props: ThriftPerRequestProps): { props: BootstrapProps; warnings: readonly string[] } {
  const proxy = thriftProxyFilter({ rules: props.rules, transport: props.proxyTransport, protocol: props.proxyProtocol });
  return {
    props: withStatsTags(perRequestBootstrapProps(
      {
        rules: props.rules,
        endpoints: props.endpoints,
        defaultPort: props.defaultPort ?? 9090,
        listenPort: props.listenPort,
        listenAddress: props.listenAddress,
        admin: props.admin,
        filters: [thriftWasmFilter({ ...props, routing: "request" })],
      },
      proxy.filter,
    ), props.telemetry),
    warnings: proxy.warnings,
  };
}

/** Standalone Envoy: the stats_tags that turn the prometheus handlers' name-encoded labels into Prometheus labels. */
function withStatsTags(p: BootstrapProps, telemetry: Readonly<Record<string, unknown>> | undefined): BootstrapProps {
  return { ...p, statsTags: rpcStatsTags(telemetry) };
}
