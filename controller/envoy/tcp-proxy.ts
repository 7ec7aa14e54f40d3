/**
 * The `envoy.filters.network.tcp_proxy` network filter: the terminal filter of a chain, sending
 * the connection's bytes to one named cluster.
 */
import type { NetworkFilter } from "./network-filter.js";

/** When tcp_proxy connects upstream (Envoy ≥ 1.37, `TcpProxy.upstream_connect_mode`). */
export type UpstreamConnectMode = "IMMEDIATE" | "ON_DOWNSTREAM_DATA" | "ON_DOWNSTREAM_TLS_HANDSHAKE";

export const TCP_PROXY_FILTER_NAME = "envoy.filters.network.tcp_proxy";
/**
 * Envoy's api/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto (1.37):
 * `google.protobuf.UInt32Value max_early_data_bytes = 22 [(validate.rules).uint32 = {lte: 1048576}]`.
 */
export const MAX_EARLY_DATA_BYTES = 1_048_576;
export const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

export interface TcpProxyProps {
  /** Upstream cluster name (must be one of the bootstrap's clusters). */
  readonly cluster: string;
  /**
   * Weighted upstream clusters instead of `cluster` (Envoy: one oneof, `cluster_specifier`).
   * tcp_proxy then draws per connection and ignores filter state `envoy.tcp_proxy.cluster`
   * (tcp_proxy.cc, `Config::getRouteFromEntries`), so no filter in front can route.
   * @default undefined (`cluster` is rendered)
   */
  readonly weightedClusters?: ReadonlyArray<{ readonly name: string; readonly weight: number }>;
  /**
   * Prefix of tcp_proxy's own stats (`tcp.<stat_prefix>.*`).
   * @default the cluster name
   */
  readonly statPrefix?: string;
  /**
   * When to connect upstream. ON_DOWNSTREAM_DATA connects only from `onData`, so a
   * server-first client (SMTP, MySQL, POP3) that sends nothing is never connected.
   * @default undefined (field omitted: Envoy's default, IMMEDIATE)
   */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /**
   * Bytes buffered from downstream before the upstream connection exists. Set, tcp_proxy reads
   * early in every connect mode (`Filter::initialize`), which a filter in front that waits for
   * data needs (without it reads stay disabled until the upstream connects: envoy#25604).
   * Envoy 1.37 requires it for ON_DOWNSTREAM_DATA, 1.38 for every mode but IMMEDIATE; at most
   * 1048576 (`lte` rule).
   * @default undefined (field omitted)
   */
  readonly maxEarlyDataBytes?: number;
  /**
   * Idle timeout as a protobuf JSON duration ("3600s").
   * @default undefined (Envoy's default, 1 hour)
   */
  readonly idleTimeout?: string;
}

export function tcpProxyFilter(props: TcpProxyProps): NetworkFilter {
  const weighted = props.weightedClusters;
  if (weighted === undefined && props.cluster === "") throw new Error("tcpProxyFilter: cluster must be a non-empty cluster name");
  for (const w of weighted ?? []) {
    if (w.name === "" || !Number.isInteger(w.weight) || w.weight < 1) {
      throw new Error(`tcpProxyFilter: weighted cluster ${JSON.stringify(w)} needs a cluster name and an integer weight >= 1`);
    }
  }
  if (weighted !== undefined && weighted.length === 0) throw new Error("tcpProxyFilter: weightedClusters needs at least one cluster");
  const mode = props.upstreamConnectMode;
  if (mode !== undefined && mode !== "IMMEDIATE" && props.maxEarlyDataBytes === undefined) {
    throw new Error(
      `tcpProxyFilter: upstreamConnectMode ${mode} needs maxEarlyDataBytes (Envoy 1.38 rejects the ` +
        `config without it); set maxEarlyDataBytes, e.g. 65536`,
    );
  }
  const max = props.maxEarlyDataBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 0 || max > MAX_EARLY_DATA_BYTES)) {
    throw new Error(
      `tcpProxyFilter: maxEarlyDataBytes ${max} must be an integer in [0, ${MAX_EARLY_DATA_BYTES}] ` +
        `(Envoy's tcp_proxy.proto: max_early_data_bytes (validate.rules).uint32 lte ${MAX_EARLY_DATA_BYTES})`,
    );
  }
  if (props.idleTimeout !== undefined && !/^\d+(\.\d{1,9})?s$/.test(props.idleTimeout)) {
    throw new Error(`tcpProxyFilter: idleTimeout ${JSON.stringify(props.idleTimeout)} must be a duration such as "30s"`);
  }
  return {
    name: TCP_PROXY_FILTER_NAME,
    typed_config: {
      "@type": TCP_PROXY_TYPE_URL,
      cluster: weighted === undefined ? props.cluster : undefined,
      idle_timeout: props.idleTimeout,
      max_early_data_bytes: max,
      stat_prefix: props.statPrefix ?? (weighted === undefined ? props.cluster : weighted[0]!.name),
      upstream_connect_mode: mode,
      weighted_clusters: weighted === undefined ? undefined : { clusters: weighted.map((w) => ({ name: w.name, weight: w.weight })) },
    },
  };
}
