/**
 * The http-telemetry filter (assembly/filters/http-telemetry) deployed two ways:
 *
 * - standalone Envoy: listener → http_connection_manager → envoy.filters.http.wasm (the filter)
 *   → router → cluster "upstream", with the `stats_config.stats_tags` that turn the prometheus
 *   handlers' name-encoded labels into Prometheus labels (./stats-tags.ts httpStatsTags);
 * - Istio: a WasmPlugin of `type: HTTP` in `phase: STATS` (istio/api extensions/v1alpha1/
 *   wasm.proto: "Insert plugin before Istio stats filters and after Istio authorization
 *   filters"), plus the pod annotations its labels need (./stats-tags.ts istioHttpStatsSettings),
 *   written into the header because a WasmPlugin cannot carry them.
 *
 * Both check the plugin configuration with the filter's own rules first (controller/config).
 */
import { assertConfiguration } from "../config/index.js";
import { httpTelemetryDimensions } from "../config/http-telemetry.js";
import type { BootstrapProps, SocketAddressProps } from "../envoy/bootstrap.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { validateWasmPlugin } from "../istio/wasm-plugin.js";
import { sortKeys } from "../yaml.js";
import { otlpCollectorClusters, otlpIstioNotes } from "./otlp-collector.js";
import { httpStatsTags, istioHttpStatsSettings } from "./stats-tags.js";

export const HTTP_TELEMETRY_NAME = "http-telemetry";
export const WASM_HTTP_FILTER_NAME = "envoy.filters.http.wasm";
export const WASM_HTTP_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/** Telemetry must never cost a request: a failed VM only stops the reports. */
export const HTTP_TELEMETRY_FAILURE_POLICY: WasmFailurePolicy = "FAIL_OPEN";

export interface WasmHttpFilterProps {
  readonly name: string;
  readonly wasmPath: string;
  /** @default {} */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /** @default "FAIL_OPEN" */
  readonly failurePolicy?: WasmFailurePolicy;
}

/**
 * `envoy.filters.http.wasm` (envoy.extensions.filters.http.wasm.v3.Wasm): the same PluginConfig
 * as the network filter (controller/envoy/wasm-network-filter.ts, which also says how the failure
 * policy is rendered), under the HTTP filter's type.
 */
export function wasmHttpFilter(props: WasmHttpFilterProps): Record<string, unknown> {
  const network = wasmNetworkFilter({
    configuration: props.configuration,
    failurePolicy: props.failurePolicy ?? HTTP_TELEMETRY_FAILURE_POLICY,
    name: props.name,
    wasmPath: props.wasmPath,
  }) as unknown as { typed_config: { config: Record<string, unknown> } };
  return { name: WASM_HTTP_FILTER_NAME, typed_config: { "@type": WASM_HTTP_TYPE_URL, config: network.typed_config.config } };
}

export interface HttpTelemetryStandaloneOptions {
  /** Plugin configuration (assembly/filters/http-telemetry/README.md). @default {} (one prometheus handler, every request) */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /** The HTTP upstream (cluster "upstream"). @default { address: "echo", port: 8080 } */
  readonly upstream?: { readonly address: string; readonly port: number };
  /** Folder holding http-telemetry.wasm as Envoy sees it. @default "/etc/envoy/wasm" */
  readonly wasmDir?: string;
  /** @default "127.0.0.1" */
  readonly adminAddress?: string;
  /** @default 9901 */
  readonly adminPort?: number;
  /** @default "FAIL_OPEN" */
  readonly failurePolicy?: WasmFailurePolicy;
  /**
   * The OpenTelemetry collector (OTLP/gRPC) behind each otlp handler's `cluster`; those HTTP/2
   * clusters are added only when the configuration has otlp handlers.
   * @default { address: "otel-collector", port: 4317 } (./otlp-collector.ts)
   */
  readonly otlpCollector?: SocketAddressProps;
}

export function httpTelemetryBootstrapProps(options: HttpTelemetryStandaloneOptions = {}): BootstrapProps {
  const configuration = options.configuration ?? {};
  assertConfiguration(HTTP_TELEMETRY_NAME, configuration);
  const wasmDir = (options.wasmDir ?? "/etc/envoy/wasm").replace(/\/+$/, "");
  const filter = wasmHttpFilter({
    configuration,
    failurePolicy: options.failurePolicy,
    name: HTTP_TELEMETRY_NAME,
    wasmPath: `${wasmDir}/${HTTP_TELEMETRY_NAME}.wasm`,
  });
  return {
    admin: { address: options.adminAddress ?? "127.0.0.1", port: options.adminPort ?? 9901 },
    clusters: [
      { name: "upstream", endpoints: [options.upstream ?? { address: "echo", port: 8080 }] },
      ...otlpCollectorClusters(configuration, options.otlpCollector),
    ],
    statsTags: httpStatsTags(httpTelemetryDimensions(configuration)),
    listener: {
      address: options.listenAddress ?? "0.0.0.0",
      filterChains: [{ http: { cluster: "upstream", httpFilters: [filter], statPrefix: HTTP_TELEMETRY_NAME } }],
      name: `${HTTP_TELEMETRY_NAME}-listener`,
      port: options.listenPort ?? 10000,
    },
  };
}

export const WORKLOAD_MODES = ["CLIENT", "SERVER", "CLIENT_AND_SERVER"] as const;
export type WorkloadMode = (typeof WORKLOAD_MODES)[number];

/** api extensions/v1alpha1/wasm.proto FailStrategy by the Envoy policy it becomes (istio pilot/pkg/model/extensions.go). */
const FAIL_STRATEGY: Readonly<Record<WasmFailurePolicy, string>> = { FAIL_CLOSED: "FAIL_CLOSE", FAIL_OPEN: "FAIL_OPEN", FAIL_RELOAD: "FAIL_RELOAD" };

export interface HttpTelemetryWasmPluginProps {
  /** @default {} */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /**
   * Which side's traffic: CLIENT (outbound, `reporter="source"`), SERVER (inbound,
   * `reporter="destination"`) or both, as istio.stats reports.
   * @default "CLIENT_AND_SERVER"
   */
  readonly mode?: WorkloadMode;
  /** Limit to these workload ports (match.ports). @default undefined (every port) */
  readonly ports?: readonly number[];
  /** @default "file:///var/local/lib/wasm/http-telemetry.wasm" */
  readonly url?: string;
  /** @default undefined */
  readonly sha256?: string;
  /** @default "FAIL_OPEN" */
  readonly failurePolicy?: WasmFailurePolicy;
  /** @default undefined */
  readonly priority?: number;
  /** @default "protomesh-http-telemetry" */
  readonly name?: string;
  /** @default undefined */
  readonly namespace?: string;
  /** @default undefined (every workload in the namespace) */
  readonly workloadLabels?: Readonly<Record<string, string>>;
}

/** The WasmPlugin (type HTTP, phase STATS), validated (controller/istio/wasm-plugin.ts validateWasmPlugin). */
export function httpTelemetryWasmPlugin(props: HttpTelemetryWasmPluginProps = {}): Record<string, unknown> {
  const configuration = props.configuration ?? {};
  assertConfiguration(HTTP_TELEMETRY_NAME, configuration);
  const mode = props.mode ?? "CLIENT_AND_SERVER";
  if (!(WORKLOAD_MODES as readonly string[]).includes(mode)) throw new Error(`httpTelemetryWasmPlugin: mode ${JSON.stringify(mode)} must be one of ${WORKLOAD_MODES.join(", ")}`);
  const name = props.name ?? `protomesh-${HTTP_TELEMETRY_NAME}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new Error(`httpTelemetryWasmPlugin: name ${JSON.stringify(name)} must be a DNS-1123 label (lower-case letters, digits, '-')`);
  }
  const url = props.url ?? `file:///var/local/lib/wasm/${HTTP_TELEMETRY_NAME}.wasm`;
  if ((url.startsWith("https://") || url.startsWith("http://")) && props.sha256 === undefined) {
    throw new Error(`httpTelemetryWasmPlugin: url ${url} is fetched over http(s): give sha256 (sha256sum of the .wasm) so the proxy checks what it runs`);
  }
  const policy = props.failurePolicy ?? HTTP_TELEMETRY_FAILURE_POLICY;
  const resource = sortKeys({
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: props.namespace },
    spec: {
      failStrategy: FAIL_STRATEGY[policy],
      match: [{ mode, ports: props.ports === undefined ? undefined : props.ports.map((number) => ({ number })) }],
      phase: "STATS",
      // Istio sends no configuration for an empty Struct (extensions.go); the filter reads that as {}.
      pluginConfig: Object.keys(configuration).length === 0 ? undefined : configuration,
      pluginName: HTTP_TELEMETRY_NAME,
      priority: props.priority,
      selector: props.workloadLabels === undefined ? undefined : { matchLabels: { ...props.workloadLabels } },
      sha256: props.sha256,
      type: "HTTP",
      url,
    },
  });
  validateWasmPlugin(resource);
  return resource;
}

/**
 * What the WasmPlugin's header tells the operator to set on the pods: the label names for
 * `sidecar.istio.io/extraStatTags` and the prefix for `sidecar.istio.io/statsInclusionPrefixes`.
 */
export function httpTelemetryIstioNotes(configuration: Readonly<Record<string, unknown>> = {}): string {
  const s = istioHttpStatsSettings(httpTelemetryDimensions(configuration));
  const otlp = otlpIstioNotes(configuration);
  return [
    "The prometheus handlers' labels need these pod annotations (or meshConfig.defaultConfig.extraStatTags /",
    "proxyStatsMatcher.inclusionPrefixes):",
    `  sidecar.istio.io/extraStatTags: "${s.extraStatTags.join(",")}"`,
    `  sidecar.istio.io/statsInclusionPrefixes: "${s.statsInclusionPrefixes.join(",")}"`,
    ...(otlp === "" ? [] : [otlp]),
  ].join("\n");
}
