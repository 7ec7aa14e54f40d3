/**
 * A standalone Envoy bootstrap: an admin endpoint, one TCP listener and its clusters. The listener
 * is either one filter chain (the given network filters followed by tcp_proxy) or, for layouts
 * that select by protocol, listener filters + matched filter chains + a default chain.
 */
import { isIP } from "node:net";
import { sortKeys, toYaml } from "../yaml.js";
import { chainClusters, filterChain, type FilterChainProps } from "./filter-chain.js";
import type { ListenerFilter } from "./listener-filters.js";
import type { NetworkFilter } from "./network-filter.js";
import type { TcpProxyProps } from "./tcp-proxy.js";
import { assertValidEnvoy } from "./validate.js";

export interface SocketAddressProps {
  /** IP address or DNS name. */
  readonly address: string;
  readonly port: number;
}

export interface AdminProps {
  /**
   * Address the admin endpoint binds. Keep it on loopback: the admin API can stop Envoy.
   * @default "127.0.0.1"
   */
  readonly address?: string;
  /** @default 9901 */
  readonly port?: number;
}

export interface ListenerProps {
  /** @default "main" */
  readonly name?: string;
  /** @default "0.0.0.0" */
  readonly address?: string;
  readonly port: number;
  /** Network filters placed before tcp_proxy, in this order (e.g. wasmNetworkFilter(...)). */
  readonly filters: readonly NetworkFilter[];
  /** The terminal tcp_proxy; its cluster must be one of BootstrapProps.clusters. */
  readonly tcpProxy: TcpProxyProps;
}

/** A listener whose connections are sorted into filter chains by `filter_chain_match`. */
export interface MultiChainListenerProps {
  /** @default "main" */
  readonly name?: string;
  /** @default "0.0.0.0" */
  readonly address?: string;
  readonly port: number;
  /** Run in order before a chain is chosen (original_dst, tls_inspector, http_inspector). */
  readonly listenerFilters?: readonly ListenerFilter[];
  /**
   * How long listener filters may wait for bytes, as a protobuf JSON duration.
   * @default undefined (Envoy's default, 15s)
   */
  readonly listenerFiltersTimeout?: string;
  /**
   * On that timeout, pick a chain with what is known instead of closing. A server-first client
   * sends nothing, so without this http_inspector closes its connection at the timeout.
   * @default undefined (Envoy's default, false)
   */
  readonly continueOnListenerFiltersTimeout?: boolean;
  readonly filterChains: readonly FilterChainProps[];
  /** Takes connections no chain matches. @default undefined (they are closed) */
  readonly defaultFilterChain?: FilterChainProps;
}

/** An ORIGINAL_DST cluster: connects to the connection's original destination (no endpoints). */
export interface OriginalDstClusterProps {
  readonly name: string;
  readonly originalDst: true;
  /** @default "1s" */
  readonly connectTimeout?: string;
}

export interface StaticClusterProps {
  readonly name: string;
  readonly endpoints: readonly SocketAddressProps[];
  /**
   * Connect timeout as a protobuf JSON duration.
   * @default "1s"
   */
  readonly connectTimeout?: string;
  /**
   * Speak HTTP/2 to the endpoints (a gRPC service such as an OpenTelemetry collector): Envoy's
   * upstream protocol options `typed_extension_protocol_options` with HttpProtocolOptions
   * `explicit_http_config.http2_protocol_options` (api/envoy/extensions/upstreams/http/v3/
   * http_protocol_options.proto); Envoy's async gRPC client needs it on its cluster.
   * @default false (HTTP/1.1, or raw TCP for tcp_proxy)
   */
  readonly http2?: boolean;
}

/** Key of the upstream HTTP protocol options in Cluster.typed_extension_protocol_options. */
export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

export interface BootstrapProps {
  /** @default { address: "127.0.0.1", port: 9901 } */
  readonly admin?: AdminProps;
  readonly listener: ListenerProps | MultiChainListenerProps;
  readonly clusters: readonly (StaticClusterProps | OriginalDstClusterProps)[];
  /**
   * Extra `stats_config.stats_tags`: the regex's first group is cut from the stat name, the second
   * becomes the tag's value.
   * @default undefined (Envoy's default tags only)
   */
  readonly statsTags?: readonly { readonly tagName: string; readonly regex: string }[];
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bootstrap: ${what} port ${port} must be an integer in [0, 65535]`);
  }
}

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

function cluster(props: StaticClusterProps | OriginalDstClusterProps): Record<string, unknown> {
  if ("originalDst" in props) {
    // Envoy refuses any other lb_policy and any load_assignment for ORIGINAL_DST
    // (source/extensions/clusters/original_dst/original_dst_cluster.cc).
    return { connect_timeout: props.connectTimeout ?? "1s", lb_policy: "CLUSTER_PROVIDED", name: props.name, type: "ORIGINAL_DST" };
  }
  if (props.endpoints.length === 0) throw new Error(`bootstrap: cluster ${props.name} needs at least one endpoint`);
  props.endpoints.forEach((e, i) => checkPort(`cluster ${props.name} endpoint ${i}`, e.port));
  // STATIC takes IP literals only; a DNS name (a compose service, host.docker.internal) needs
  // STRICT_DNS, which Envoy resolves at startup and keeps re-resolving.
  const allIps = props.endpoints.every((e) => isIP(e.address) !== 0);
  return {
    connect_timeout: props.connectTimeout ?? "1s",
    load_assignment: {
      cluster_name: props.name,
      endpoints: [{
        lb_endpoints: props.endpoints.map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) } })),
      }],
    },
    name: props.name,
    type: allIps ? "STATIC" : "STRICT_DNS",
    typed_extension_protocol_options: props.http2 === true
      ? { [HTTP_PROTOCOL_OPTIONS_KEY]: { "@type": `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`, explicit_http_config: { http2_protocol_options: {} } } }
      : undefined,
  };
}

function asMultiChain(listener: ListenerProps | MultiChainListenerProps): MultiChainListenerProps {
  if ("filterChains" in listener) return listener;
  return { ...listener, filterChains: [{ filters: listener.filters, tcpProxy: listener.tcpProxy }] };
}

/** The bootstrap as a plain object (Envoy YAML field names), validated against Envoy's protos. */
export function bootstrap(props: BootstrapProps): Record<string, unknown> {
  const names = props.clusters.map((c) => c.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`bootstrap: cluster name ${duplicate} is used twice`);
  const listener = asMultiChain(props.listener);
  if (listener.filterChains.length === 0 && listener.defaultFilterChain === undefined) {
    throw new Error("bootstrap: the listener needs at least one filter chain or a defaultFilterChain");
  }
  const chains = [...listener.filterChains, ...(listener.defaultFilterChain === undefined ? [] : [listener.defaultFilterChain])];
  for (const used of chains.flatMap(chainClusters)) {
    if (!names.includes(used)) {
      const what = "filterChains" in props.listener ? "a filter chain's cluster" : "tcpProxy.cluster";
      throw new Error(
        `bootstrap: ${what} ${JSON.stringify(used)} is not a cluster; ` +
          `define it in clusters or use one of: ${names.join(", ") || "(none)"}`,
      );
    }
  }
  const adminPort = props.admin?.port ?? 9901;
  checkPort("admin", adminPort);
  checkPort("listener", listener.port);
  const config = sortKeys({
    admin: { address: socketAddress(props.admin?.address ?? "127.0.0.1", adminPort) },
    static_resources: {
      clusters: props.clusters.map(cluster),
      listeners: [{
        address: socketAddress(listener.address ?? "0.0.0.0", listener.port),
        continue_on_listener_filters_timeout: listener.continueOnListenerFiltersTimeout,
        default_filter_chain: listener.defaultFilterChain === undefined ? undefined : filterChain(listener.defaultFilterChain),
        filter_chains: listener.filterChains.map(filterChain),
        listener_filters: listener.listenerFilters === undefined ? undefined : [...listener.listenerFilters],
        listener_filters_timeout: listener.listenerFiltersTimeout,
        name: listener.name ?? "main",
      }],
    },
    stats_config: props.statsTags === undefined || props.statsTags.length === 0
      ? undefined
      : { stats_tags: props.statsTags.map((t) => ({ regex: t.regex, tag_name: t.tagName })) },
  });
  assertValidEnvoy(config);
  return config;
}

/** The bootstrap as YAML (sorted keys, pinned schema), with an optional comment header. */
export function bootstrapYaml(props: BootstrapProps, header?: string): string {
  return toYaml(bootstrap(props), header);
}
