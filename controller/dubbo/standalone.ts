/**
 * Standalone Envoy for the two Dubbo deployments of one rule set:
 *
 * - per connection: listener → dubbo wasm filter → tcp_proxy (IMMEDIATE + max_early_data_bytes,
 *   controller/rules/per-connection.ts; its `cluster` serves connections no routing rule matches). The filter picks the
 *   cluster from the first request of each connection.
 * - per request: listener → dubbo wasm filter (policy, faults, telemetry) → dubbo_proxy
 *   (filter.ts), which routes every request by the same rules (route-config.ts).
 */
import type { BootstrapProps, SocketAddressProps } from "../envoy/bootstrap.js";
import type { NetworkFilter } from "../envoy/network-filter.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { perConnectionBootstrapProps } from "../rules/per-connection.js";
import { rpcStatsTags } from "../telemetry/stats-tags.js";
import { perRequestBootstrapProps } from "../rules/per-request.js";
import { dubboProxyFilter } from "./filter.js";
import { dubboWasmConfiguration, type DubboWasmConfigProps } from "./wasm-config.js";

/** Folder name under assembly/filters, root id and .wasm base name. */
export const DUBBO_FILTER_NAME = "dubbo";
/** Dubbo's own default provider port (apache/dubbo DubboProtocol DEFAULT_PORT). */
export const DUBBO_DEFAULT_PORT = 20880;

export interface DubboWasmFilterProps extends DubboWasmConfigProps {
  /** Folder holding dubbo.wasm as Envoy sees it. @default "/etc/envoy/wasm" */
  readonly wasmDir?: string;
  /**
   * FAIL_RELOAD: skipped, the filter would let denied requests through and write no cluster, so a
   * failed VM closes connections until Envoy reloads it.
   * @default "FAIL_RELOAD"
   */
  readonly failurePolicy?: WasmFailurePolicy;
}

export function dubboWasmFilter(props: DubboWasmFilterProps): NetworkFilter {
  return wasmNetworkFilter({
    configuration: dubboWasmConfiguration(props),
    failurePolicy: props.failurePolicy ?? "FAIL_RELOAD",
    name: DUBBO_FILTER_NAME,
    wasmPath: `${(props.wasmDir ?? "/etc/envoy/wasm").replace(/\/+$/, "")}/${DUBBO_FILTER_NAME}.wasm`,
  });
}

export interface DubboStandaloneProps extends DubboWasmFilterProps {
  /** Endpoints per cluster name. @default `<cluster name>:<defaultPort>` */
  readonly endpoints?: Readonly<Record<string, readonly SocketAddressProps[]>>;
  /** @default 20880 */
  readonly defaultPort?: number;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /** @default { address: "127.0.0.1", port: 9901 } */
  readonly admin?: BootstrapProps["admin"];
}

export interface DubboPerConnectionProps extends DubboStandaloneProps {
  /** tcp_proxy's cluster: connections whose first request no routing rule matches. @default "dubbo-default" */
  readonly defaultCluster?: string;
  /** @default 16384 (controller/rules/per-connection.ts) */
  readonly maxEarlyDataBytes?: number;
}

export function dubboPerConnectionBootstrapProps(props: DubboPerConnectionProps): BootstrapProps {
  const bootstrapProps = perConnectionBootstrapProps({
    ...props,
    protocol: "dubbo",
    filter: dubboWasmFilter({ ...props, routing: "connection" }),
    defaultCluster: props.defaultCluster ?? "dubbo-default",
    defaultPort: props.defaultPort ?? DUBBO_DEFAULT_PORT,
  });
  return { ...bootstrapProps, statsTags: rpcStatsTags(props.telemetry) };
}

export interface DubboPerRequestProps extends DubboStandaloneProps {
  /** dubbo_proxy's stats are `dubbo.<proxyStatPrefix>.*`. @default the rule set's metadata.name */
  readonly proxyStatPrefix?: string;
}

/** Per request: the wasm filter in front of dubbo_proxy, both from the same rules; warnings name what only the wasm filter enforces. */
export function dubboPerRequestBootstrapProps(props: DubboPerRequestProps): { props: BootstrapProps; warnings: readonly string[] } {
  const proxy = dubboProxyFilter({ rules: props.rules, statPrefix: props.proxyStatPrefix });
  return {
    props: withStatsTags(perRequestBootstrapProps(
      {
        rules: props.rules,
        endpoints: props.endpoints,
        defaultPort: props.defaultPort ?? DUBBO_DEFAULT_PORT,
        listenPort: props.listenPort,
        listenAddress: props.listenAddress,
        admin: props.admin,
        filters: [dubboWasmFilter({ ...props, routing: "request" })],
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
