/**
 * Bootstrap props for running one protomesh filter in a standalone Envoy: listener → the filter
 * → tcp_proxy → one upstream. Used by the CLI (`render envoy`), the committed envoy/*.yaml, the
 * demo and the e2e test, so they all describe the same deployment.
 */
import { filterSpec } from "../filters.js";
import { otlpCollectorClusters } from "../telemetry/otlp-collector.js";
import { tcpStatsTags } from "../telemetry/stats-tags.js";
import type { BootstrapProps, SocketAddressProps } from "./bootstrap.js";
import type { UpstreamConnectMode } from "./tcp-proxy.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "./wasm-network-filter.js";

export interface StandaloneOptions {
  /** A name from controller/filters.ts (e.g. "tcp-stats"). */
  readonly filter: string;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /**
   * The upstream tcp_proxy forwards to (cluster "upstream").
   * @default { address: "echo", port: 7000 } (the docker-compose echo service)
   */
  readonly upstream?: { readonly address: string; readonly port: number };
  /**
   * Folder holding `<filter>.wasm` as Envoy sees it.
   * @default "/etc/envoy/wasm"
   */
  readonly wasmDir?: string;
  /** @default "127.0.0.1" */
  readonly adminAddress?: string;
  /** @default 9901 */
  readonly adminPort?: number;
  /** @default the filter's own need (FilterSpec.upstreamConnectMode), else Envoy's default */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** @default 65536 when the connect mode is not IMMEDIATE, else unset */
  readonly maxEarlyDataBytes?: number;
  /** @default the filter's (FilterSpec.failurePolicy) */
  readonly failurePolicy?: WasmFailurePolicy;
  /** @default the filter's defaultConfiguration */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /**
   * The OpenTelemetry collector (OTLP/gRPC) behind the clusters a configuration's `otlp.cluster`
   * and otlp handlers name; those clusters are added only when the configuration exports.
   * @default { address: "otel-collector", port: 4317 } (controller/telemetry/otlp-collector.ts)
   */
  readonly otlpCollector?: SocketAddressProps;
}

export const UPSTREAM_CLUSTER = "upstream";

export function standaloneBootstrapProps(options: StandaloneOptions): BootstrapProps {
  const spec = filterSpec(options.filter);
  const upstream = options.upstream ?? { address: "echo", port: 7000 };
  const mode = options.upstreamConnectMode ?? spec.upstreamConnectMode;
  const early = options.maxEarlyDataBytes ?? spec.maxEarlyDataBytes ?? (mode !== undefined && mode !== "IMMEDIATE" ? 65536 : undefined);
  const wasmDir = (options.wasmDir ?? "/etc/envoy/wasm").replace(/\/+$/, "");
  const configuration = options.configuration ?? spec.defaultConfiguration;
  const collectors = otlpCollectorClusters(configuration, options.otlpCollector);
  return {
    admin: { address: options.adminAddress ?? "127.0.0.1", port: options.adminPort ?? 9901 },
    clusters: [{ name: UPSTREAM_CLUSTER, endpoints: [upstream] }, ...collectors],
    // tcp-stats writes Istio's TCP labels into its stat names; these entries extract them.
    statsTags: spec.name === "tcp-stats" ? tcpStatsTags() : undefined,
    listener: {
      address: options.listenAddress ?? "0.0.0.0",
      filters: [wasmNetworkFilter({
        configuration,
        failurePolicy: options.failurePolicy ?? spec.failurePolicy,
        name: spec.name,
        wasmPath: `${wasmDir}/${spec.name}.wasm`,
      })],
      name: `${spec.name}-listener`,
      port: options.listenPort ?? 10000,
      tcpProxy: { cluster: UPSTREAM_CLUSTER, maxEarlyDataBytes: early, statPrefix: spec.name, upstreamConnectMode: mode },
    },
  };
}

/** How envoy/<filter>.yaml is rendered (the demo and docker-compose run it in a container, where
 * the admin endpoint must bind 0.0.0.0 to be published; compose publishes it on host loopback). */
export function committedEnvoyOptions(filter: string): StandaloneOptions {
  return { adminAddress: "0.0.0.0", filter };
}

/** The command that regenerates envoy/<filter>.yaml, written into its header. */
export function committedEnvoyCommand(filter: string): string {
  return `node --import tsx controller/cli.ts render envoy --filter ${filter} --admin-address 0.0.0.0 > envoy/${filter}.yaml`;
}
