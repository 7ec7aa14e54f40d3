/**
 * tcp_proxy behind the thrift filter per connection: the same pairing the sniffer's route mode
 * needs (controller/sniffer/pairing.ts has the Envoy sources), because the filter holds the
 * connection from on_new_connection until the first call decides `envoy.tcp_proxy.cluster`:
 * IMMEDIATE with `max_early_data_bytes` (reads stay enabled while tcp_proxy connects), and one
 * named cluster, never `weighted_clusters` (tcp_proxy then ignores the filter state; the filter
 * draws weights itself).
 */
import { ROUTE_MAX_EARLY_DATA_BYTES } from "../sniffer/pairing.js";

export interface ThriftTcpProxyPairing {
  readonly upstreamConnectMode: "IMMEDIATE";
  readonly maxEarlyDataBytes: number;
}

export function pairThriftTcpProxy(maxEarlyDataBytes: number = ROUTE_MAX_EARLY_DATA_BYTES): ThriftTcpProxyPairing {
  if (!Number.isInteger(maxEarlyDataBytes) || maxEarlyDataBytes < 1) {
    throw new Error(`thrift: max_early_data_bytes must be a positive integer, found ${maxEarlyDataBytes}: without it tcp_proxy waits for an upstream before reading`);
  }
  return { upstreamConnectMode: "IMMEDIATE", maxEarlyDataBytes };
}
