/**
 * The standalone bootstrap of the per-connection deployment: one listener whose chain runs the
 * protomesh RPC filter in front of tcp_proxy, and one static cluster per cluster the rule set
 * names plus tcp_proxy's own.
 *
 *   listener → protomesh wasm filter (first call picks envoy.tcp_proxy.cluster) → tcp_proxy → clusters
 *
 * The pairing is the sniffer's route mode (controller/sniffer/pairing.ts has the Envoy sources):
 * the filter holds each connection from on_new_connection until its first call is decoded, so
 * tcp_proxy must connect IMMEDIATE with `max_early_data_bytes` (reads stay enabled while it
 * connects), and name one cluster, never `weighted_clusters` (tcp_proxy then ignores the filter
 * state; the filter draws weights itself). tcp_proxy's `cluster` serves connections no rule routes.
 */
import type { BootstrapProps, StaticClusterProps } from "../envoy/bootstrap.js";
import type { NetworkFilter } from "../envoy/network-filter.js";
import { ROUTE_MAX_EARLY_DATA_BYTES } from "../sniffer/pairing.js";
import { routedClusters } from "./native.js";
import type { PerRequestProps } from "./per-request.js";

export interface RpcTcpProxyPairing {
  readonly upstreamConnectMode: "IMMEDIATE";
  readonly maxEarlyDataBytes: number;
}

/** tcp_proxy's fields behind the `protocol` filter; refuses a bound that would stall reads. */
export function pairRpcTcpProxy(protocol: string, maxEarlyDataBytes: number = ROUTE_MAX_EARLY_DATA_BYTES): RpcTcpProxyPairing {
  if (!Number.isInteger(maxEarlyDataBytes) || maxEarlyDataBytes < 1) {
    throw new Error(`${protocol}: max_early_data_bytes must be a positive integer, found ${maxEarlyDataBytes}: without it tcp_proxy waits for an upstream before reading`);
  }
  return { upstreamConnectMode: "IMMEDIATE", maxEarlyDataBytes };
}

export interface PerConnectionProps extends Omit<PerRequestProps, "filters"> {
  /** Names the filter in errors and is tcp_proxy's stat prefix ("dubbo", "thrift"). */
  readonly protocol: string;
  /** The protomesh wasm filter, configured with `routing: "connection"`. */
  readonly filter: NetworkFilter;
  /** tcp_proxy's cluster: connections whose first call no routing rule matches. */
  readonly defaultCluster: string;
  /** @default 16384 (ROUTE_MAX_EARLY_DATA_BYTES) */
  readonly maxEarlyDataBytes?: number;
}

export function perConnectionBootstrapProps(props: PerConnectionProps): BootstrapProps {
  const names = [...new Set([...routedClusters(props.rules.ruleSet.spec.rules), props.defaultCluster])];
  const endpoints = props.endpoints ?? {};
  const clusters: StaticClusterProps[] = names.map((name) => ({
    name,
    endpoints: endpoints[name] ?? [{ address: name, port: props.defaultPort }],
  }));
  return {
    admin: props.admin,
    clusters,
    listener: {
      address: props.listenAddress,
      port: props.listenPort ?? 10000,
      filterChains: [{
        filters: [props.filter],
        tcpProxy: { cluster: props.defaultCluster, statPrefix: props.protocol, ...pairRpcTcpProxy(props.protocol, props.maxEarlyDataBytes) },
      }],
    },
  };
}
