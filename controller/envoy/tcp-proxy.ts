/**
 * The `envoy.filters.network.tcp_proxy` network filter: the terminal filter of a chain, sending
 * the connection's bytes to one named cluster.
 */
import type { NetworkFilter } from "./network-filter.js";

/** When tcp_proxy connects upstream (Envoy ≥ 1.37, `TcpProxy.upstream_connect_mode`). */
export type UpstreamConnectMode = "IMMEDIATE" | "ON_DOWNSTREAM_DATA" | "ON_DOWNSTREAM_TLS_HANDSHAKE";

export const TCP_PROXY_FILTER_NAME = "envoy.filters.network.tcp_proxy";
export const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

export interface TcpProxyProps {
  /** Upstream cluster name (must be one of the bootstrap's clusters). */
  readonly cluster: string;
  /**
   * Prefix of tcp_proxy's own stats (`tcp.<stat_prefix>.*`).
   * @default the cluster name
   */
  readonly statPrefix?: string;
  /**
   * When to connect upstream. A wasm filter in front that waits for data needs
   * ON_DOWNSTREAM_DATA: with IMMEDIATE, tcp_proxy read-disables the downstream connection
   * (envoy#25604). Not for server-first protocols (SMTP, MySQL, POP3).
   * @default undefined (field omitted: Envoy's default, IMMEDIATE)
   */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /**
   * Bytes buffered from downstream before the upstream connection exists. Envoy 1.38 refuses a
   * mode other than IMMEDIATE without it, so it is required then.
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
  if (props.cluster === "") throw new Error("tcpProxyFilter: cluster must be a non-empty cluster name");
  const mode = props.upstreamConnectMode;
  if (mode !== undefined && mode !== "IMMEDIATE" && props.maxEarlyDataBytes === undefined) {
    throw new Error(
      `tcpProxyFilter: upstreamConnectMode ${mode} needs maxEarlyDataBytes (Envoy 1.38 rejects the ` +
        `config without it); set maxEarlyDataBytes, e.g. 65536`,
    );
  }
  const max = props.maxEarlyDataBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 0 || max > 0xffffffff)) {
    throw new Error(`tcpProxyFilter: maxEarlyDataBytes ${max} must be an integer in [0, 4294967295]`);
  }
  if (props.idleTimeout !== undefined && !/^\d+(\.\d{1,9})?s$/.test(props.idleTimeout)) {
    throw new Error(`tcpProxyFilter: idleTimeout ${JSON.stringify(props.idleTimeout)} must be a duration such as "30s"`);
  }
  return {
    name: TCP_PROXY_FILTER_NAME,
    typed_config: {
      "@type": TCP_PROXY_TYPE_URL,
      cluster: props.cluster,
      idle_timeout: props.idleTimeout,
      max_early_data_bytes: max,
      stat_prefix: props.statPrefix ?? props.cluster,
      upstream_connect_mode: mode,
    },
  };
}
