/**
 * One Istio EnvoyFilter (networking.istio.io/v1alpha3) deploying a protomesh RPC filter (Dubbo or
 * Thrift) on a sidecar's TCP chains for one port, in either deployment of the rule model
 * (controller/rules/README.md):
 *
 * - per connection: the wasm filter INSERT_BEFORE tcp_proxy, plus a MERGE of tcp_proxy's
 *   upstream_connect_mode IMMEDIATE and max_early_data_bytes: the filter holds each connection until
 *   its first call decides `envoy.tcp_proxy.cluster`, which is the sniffer's route pairing
 *   (controller/sniffer/pairing.ts has the Envoy sources).
 * - per request: the wasm filter INSERT_BEFORE tcp_proxy, then tcp_proxy REPLACEd by
 *   envoy.filters.network.dubbo_proxy / thrift_proxy carrying the rule set's route table.
 *
 * Both patches match the chain's `envoy.filters.network.tcp_proxy`, so Istio's own filters before it
 * stay where istiod put them (istio/istio release-1.29 pilot/pkg/networking/core/networkfilter.go,
 * buildCompleteNetworkFilters: istio.metadata_exchange, ext_authz, WasmPlugins by phase, network
 * RBAC, istio.stats, then tcp_proxy): authorization still runs first. istiod applies a resource's
 * NETWORK_FILTER patches in the order written (pilot/pkg/model/envoyfilter.go,
 * convertToEnvoyFilterWrapper; envoyfilter/listener_patch.go, patchNetworkFilters), so the insert
 * finds tcp_proxy before the REPLACE swaps it.
 *
 * Why an EnvoyFilter and not a WasmPlugin (type NETWORK), although istiod places a WasmPlugin before
 * tcp_proxy and, in phase STATS, after RBAC (networkfilter.go, same function):
 * - per connection needs the tcp_proxy MERGE, which only an EnvoyFilter can make, and the two must
 *   arrive together: a filter that holds the connection in front of a tcp_proxy without early reads
 *   hangs it (envoy#25604). In one EnvoyFilter the proxyVersion guard (proxy-version.ts) keeps both
 *   off an older proxy; a WasmPlugin next to it would still be pushed over ECDS.
 * - per request needs the REPLACE of tcp_proxy, again EnvoyFilter only.
 * - a WasmPlugin matches the port's every chain, HTTP chains included (listener_inbound.go
 *   buildInboundNetworkFiltersForHTTP), while these patches match only chains ending in tcp_proxy.
 *
 * Matching: SIDECAR_OUTBOUND compares `portNumber` with the outbound listener's port (the service
 * port); SIDECAR_INBOUND with each virtualInbound chain's destination_port (the workload's target
 * port) (listener_patch.go, listenerMatch / filterChainMatch). An outbound TCP listener is named
 * `<service VIP>_<port>` (listener.go, buildSidecarOutboundListener), and no EnvoyFilter field
 * selects a chain by service, so outbound the patches apply to every TCP service on that port of
 * the selected workloads.
 */
import { checkPluginConfigurations } from "../config/plugins.js";
import { DUBBO_PROXY_FILTER_NAME } from "../dubbo/filter.js";
import type { NetworkFilter } from "../envoy/network-filter.js";
import { MAX_EARLY_DATA_BYTES, TCP_PROXY_FILTER_NAME, TCP_PROXY_TYPE_URL } from "../envoy/tcp-proxy.js";
import { assertValidEnvoy } from "../envoy/validate.js";
import { WASM_NETWORK_FILTER_NAME } from "../envoy/wasm-network-filter.js";
import { pairTcpProxy, ROUTE_MAX_EARLY_DATA_BYTES } from "../sniffer/pairing.js";
import { THRIFT_PROXY_FILTER_NAME } from "../thrift/filter.js";
import { sortKeys, toYaml } from "../yaml.js";
import { validateEnvoyFilter } from "./envoy-filter.js";
import { guardProxyVersion } from "./proxy-version.js";

export const RPC_PROTOCOLS = ["dubbo", "thrift"] as const;
export type RpcProtocol = (typeof RPC_PROTOCOLS)[number];
export const RPC_DEPLOYMENTS = ["connection", "request"] as const;
export type RpcDeployment = (typeof RPC_DEPLOYMENTS)[number];
export const ISTIO_TRAFFIC_CONTEXTS = ["outbound", "inbound"] as const;
export type IstioTrafficContext = (typeof ISTIO_TRAFFIC_CONTEXTS)[number];

/** The native proxy that routes each request of a protocol. */
export const NATIVE_PROXY_FILTER: Readonly<Record<RpcProtocol, string>> = {
  dubbo: DUBBO_PROXY_FILTER_NAME,
  thrift: THRIFT_PROXY_FILTER_NAME,
};

const PATCH_CONTEXT: Readonly<Record<IstioTrafficContext, string>> = { inbound: "SIDECAR_INBOUND", outbound: "SIDECAR_OUTBOUND" };

export interface RpcEnvoyFilterProps {
  readonly protocol: RpcProtocol;
  readonly deployment: RpcDeployment;
  /**
   * The protomesh wasm network filter (e.g. controller/thrift/standalone.ts thriftWasmFilter), its
   * rules naming Istio clusters (rule-clusters.ts) and its `routing` matching `deployment`.
   */
  readonly wasmFilter: NetworkFilter;
  /** Per request: the native proxy over the same rules (dubboProxyFilter / thriftProxyFilter). */
  readonly nativeProxy?: NetworkFilter;
  /** outbound: the service port; inbound: the port the workload listens on. */
  readonly port: number;
  /**
   * outbound: the client sidecars' chains toward the port; inbound: the server's own chains.
   * @default "outbound"
   */
  readonly context?: IstioTrafficContext;
  /** Per connection: tcp_proxy max_early_data_bytes. @default 16384 (controller/sniffer/pairing.ts) */
  readonly maxEarlyDataBytes?: number;
  /** @default `protomesh-<protocol>-<deployment>-<context>-<port>` */
  readonly name?: string;
  /** @default undefined (the namespace kubectl applies it to; the root namespace = mesh-wide) */
  readonly namespace?: string;
  /** Pod labels selecting the workloads (workloadSelector.labels). @default undefined (every workload in the namespace) */
  readonly workloadLabels?: Readonly<Record<string, string>>;
}

export interface RenderedRpcEnvoyFilter {
  readonly resource: Record<string, unknown>;
  /** What the resource cannot guard against, one sentence each; print them. */
  readonly warnings: readonly string[];
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The plugin configuration of a wasm filter as JSON, or undefined when it carries none. */
function pluginConfiguration(filter: NetworkFilter): Record<string, unknown> | undefined {
  const config = (filter.typed_config as { config?: { configuration?: { value?: unknown } } }).config;
  const text = config?.configuration?.value;
  if (typeof text !== "string" || text.trim() === "") return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // checkPluginConfigurations names the problem
  }
}

function checkWasmFilter(props: RpcEnvoyFilterProps): void {
  const f = props.wasmFilter;
  if (f.name !== WASM_NETWORK_FILTER_NAME) {
    throw new Error(`rpcEnvoyFilter: wasmFilter must be an ${WASM_NETWORK_FILTER_NAME} filter (the protomesh ${props.protocol} filter), got ${f.name}`);
  }
  const rootId = (f.typed_config as { config?: { root_id?: unknown } }).config?.root_id;
  if (rootId !== props.protocol) {
    throw new Error(`rpcEnvoyFilter: wasmFilter runs root id ${JSON.stringify(rootId)}; a ${props.protocol} rule set needs the ${props.protocol} filter`);
  }
  const routing = pluginConfiguration(f)?.["routing"];
  if (routing !== undefined && routing !== props.deployment) {
    throw new Error(
      `rpcEnvoyFilter: the ${props.protocol} filter is configured with routing ${JSON.stringify(routing)} but the deployment is per ${props.deployment}; ` +
        `render its configuration with routing "${props.deployment}"`,
    );
  }
  assertValidEnvoy(f, "envoy.config.listener.v3.Filter");
}

function checkNativeProxy(props: RpcEnvoyFilterProps): NetworkFilter | undefined {
  const native = props.nativeProxy;
  if (props.deployment === "connection") {
    if (native !== undefined) {
      throw new Error(`rpcEnvoyFilter: per connection tcp_proxy forwards; nativeProxy (${native.name}) applies to deployment request only`);
    }
    return undefined;
  }
  const wanted = NATIVE_PROXY_FILTER[props.protocol];
  if (native === undefined) throw new Error(`rpcEnvoyFilter: per request needs nativeProxy, the ${wanted} filter rendered from the same rules`);
  if (native.name !== wanted) throw new Error(`rpcEnvoyFilter: nativeProxy must be ${wanted} for ${props.protocol}, got ${native.name}`);
  assertValidEnvoy(native, "envoy.config.listener.v3.Filter");
  return native;
}

function warnings(props: RpcEnvoyFilterProps, context: IstioTrafficContext): string[] {
  const out: string[] = [];
  const proxy = NATIVE_PROXY_FILTER[props.protocol];
  if (context === "outbound" && props.deployment === "connection") {
    out.push(
      `SIDECAR_OUTBOUND port ${props.port}: a VirtualService that splits this port's TCP traffic over several destinations makes istiod ` +
        `render tcp_proxy with weighted_clusters (networkfilter.go, buildOutboundNetworkFiltersWithWeightedClusters), which ignores ` +
        `envoy.tcp_proxy.cluster (Envoy tcp_proxy.cc, Config::getRouteFromEntries): the filter's choice is then lost. Split with the ` +
        `rule set's weightedClusters instead and give the service one TCP destination`,
    );
  }
  if (context === "outbound" && props.deployment === "request") {
    out.push(
      `SIDECAR_OUTBOUND port ${props.port}: ${proxy} replaces tcp_proxy on every outbound TCP listener of port ${props.port} of the ` +
        `selected workloads, whatever service was dialled; a call no rule routes is answered by ${proxy} (no route), so the rule set ` +
        `must route every ${props.protocol} service those workloads call on this port`,
    );
  }
  if (props.deployment === "request") {
    out.push(
      `per request, Istio's istio_tcp_sent/received_bytes_total stay 0 and destination_service reads unknown on port ${props.port} ` +
        `(only tcp_proxy feeds the bytes meter and upstream info istio.stats reads; see controller/rules/README.md "Istio"); ` +
        `the protomesh filter's istio_requests_total and istio_request_* carry the traffic`,
    );
  }
  const failOpen = (props.wasmFilter.typed_config as { config?: { fail_open?: unknown } }).config?.fail_open === true;
  if (failOpen) {
    out.push(`the ${props.protocol} filter is FAIL_OPEN: while its VM is down, deny, rate-limit and abort rules are not enforced`);
  }
  return out;
}

/** The EnvoyFilter, validated (Istio's schema, every Envoy object against Envoy's protos), and its warnings. */
export function rpcEnvoyFilter(props: RpcEnvoyFilterProps): RenderedRpcEnvoyFilter {
  const context = props.context ?? "outbound";
  if (!(ISTIO_TRAFFIC_CONTEXTS as readonly string[]).includes(context)) {
    throw new Error(`rpcEnvoyFilter: context ${JSON.stringify(context)} must be one of ${ISTIO_TRAFFIC_CONTEXTS.join(", ")}`);
  }
  if (!Number.isInteger(props.port) || props.port < 1 || props.port > 65535) {
    throw new Error(`rpcEnvoyFilter: port ${props.port} must be a port in [1, 65535]`);
  }
  if (props.port === 15001 || props.port === 15006) {
    throw new Error(`rpcEnvoyFilter: port ${props.port} is the sidecar's own redirect port; give the ${context === "outbound" ? "service" : "workload"}'s port`);
  }
  const name = props.name ?? `protomesh-${props.protocol}-${props.deployment}-${context}-${props.port}`;
  if (name.length > 253 || !DNS_1123.test(name)) {
    throw new Error(`rpcEnvoyFilter: name ${JSON.stringify(name)} must be a DNS-1123 label (lower-case letters, digits, '-')`);
  }
  checkWasmFilter(props);
  const native = checkNativeProxy(props);

  const match = (): Record<string, unknown> => ({
    context: PATCH_CONTEXT[context],
    listener: { filterChain: { filter: { name: TCP_PROXY_FILTER_NAME } }, portNumber: props.port },
  });
  const patches: Record<string, unknown>[] = [
    { applyTo: "NETWORK_FILTER", match: match(), patch: { operation: "INSERT_BEFORE", value: props.wasmFilter } },
  ];
  if (native === undefined) {
    const early = props.maxEarlyDataBytes ?? ROUTE_MAX_EARLY_DATA_BYTES;
    if (!Number.isInteger(early) || early < 1 || early > MAX_EARLY_DATA_BYTES) {
      throw new Error(
        `rpcEnvoyFilter: maxEarlyDataBytes ${early} must be an integer in [1, ${MAX_EARLY_DATA_BYTES}] (Envoy's tcp_proxy.proto ` +
          `declares lte ${MAX_EARLY_DATA_BYTES}); the default ${ROUTE_MAX_EARLY_DATA_BYTES} is enough`,
      );
    }
    // The sniffer's route pairing is this filter's: it holds the connection until the first call decides.
    const tcp = pairTcpProxy("route", {}, { maxEarlyDataBytes: early });
    const merge = {
      name: TCP_PROXY_FILTER_NAME,
      typed_config: { "@type": TCP_PROXY_TYPE_URL, max_early_data_bytes: tcp.maxEarlyDataBytes, upstream_connect_mode: tcp.upstreamConnectMode },
    };
    // A MERGE value is partial (no stat_prefix, no cluster); check it as merged into a tcp_proxy like Istio's.
    const istioCluster = context === "inbound" ? `inbound|${props.port}||` : `outbound|${props.port}||service.namespace.svc.cluster.local`;
    assertValidEnvoy({ ...merge, typed_config: { ...merge.typed_config, cluster: istioCluster, stat_prefix: istioCluster } }, "envoy.config.listener.v3.Filter");
    patches.push({ applyTo: "NETWORK_FILTER", match: match(), patch: { operation: "MERGE", value: merge } });
  } else {
    if (props.maxEarlyDataBytes !== undefined) {
      throw new Error(`rpcEnvoyFilter: maxEarlyDataBytes pairs tcp_proxy per connection; per request ${native.name} replaces tcp_proxy, remove it`);
    }
    patches.push({ applyTo: "NETWORK_FILTER", match: match(), patch: { operation: "REPLACE", value: native } });
  }
  const resource = sortKeys({
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name, namespace: props.namespace },
    spec: {
      configPatches: guardProxyVersion(patches),
      workloadSelector: props.workloadLabels === undefined ? undefined : { labels: { ...props.workloadLabels } },
    },
  });
  validateEnvoyFilter(resource);
  const problems = checkPluginConfigurations(resource);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return { resource, warnings: warnings(props, context) };
}

export function rpcEnvoyFilterYaml(props: RpcEnvoyFilterProps, header?: string): { yaml: string; warnings: readonly string[] } {
  const { resource, warnings } = rpcEnvoyFilter(props);
  return { yaml: toYaml(resource, header), warnings };
}
