/**
 * A listener filter chain: what it matches (`filter_chain_match`) and its network filters, ending
 * in tcp_proxy or an HTTP connection manager.
 *
 * Envoy picks a chain by narrowing in this order: destination port, destination IP, server names,
 * transport protocol, application protocols, … (source/common/listener_manager/
 * filter_chain_manager_impl.cc). Once a chain names the connection's destination port, chains
 * without a port are no longer candidates; when nothing matches, `default_filter_chain` takes the
 * connection (or it is closed). A chain that lists application protocols wins over one that does
 * not, which is how an HTTP chain and a raw-TCP chain share one port.
 */
import { httpConnectionManager, type HttpRouteProps } from "./http-connection-manager.js";
import type { NetworkFilter } from "./network-filter.js";
import { tcpProxyFilter, type TcpProxyProps } from "./tcp-proxy.js";

export interface FilterChainMatchProps {
  /** Connection's local (original) destination port. */
  readonly destinationPort?: number;
  /** `raw_buffer` or `tls` (set by tls_inspector; Envoy defaults to raw_buffer). */
  readonly transportProtocol?: "raw_buffer" | "tls";
  /** ALPN or what http_inspector detected (`http/1.0`, `http/1.1`, `h2c`). */
  readonly applicationProtocols?: readonly string[];
  /** SNI names (tls_inspector). */
  readonly serverNames?: readonly string[];
}

export interface FilterChainProps {
  /** Chain name (shows in stats and access logs, and in Istio's `filterChain.name` match). */
  readonly name?: string;
  /** @default undefined (matches every connection) */
  readonly match?: FilterChainMatchProps;
  /** Network filters before the terminal filter, in order. */
  readonly filters?: readonly NetworkFilter[];
  /** Terminal tcp_proxy. Exactly one of tcpProxy, http and terminal must be set. */
  readonly tcpProxy?: TcpProxyProps;
  /** Terminal HTTP connection manager. Exactly one of tcpProxy, http and terminal must be set. */
  readonly http?: HttpRouteProps;
  /** Another terminal filter (dubbo_proxy, thrift_proxy) and the clusters it routes to. */
  readonly terminal?: { readonly filter: NetworkFilter; readonly clusters: readonly string[] };
}

export function filterChainMatch(props: FilterChainMatchProps): Record<string, unknown> {
  const port = props.destinationPort;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new Error(`filterChainMatch: destinationPort ${port} must be an integer in [1, 65535]`);
  }
  const protocols = props.applicationProtocols;
  if (protocols !== undefined && protocols.length === 0) {
    throw new Error("filterChainMatch: applicationProtocols is empty; omit it to match any protocol");
  }
  return {
    application_protocols: protocols === undefined ? undefined : [...protocols],
    destination_port: port,
    server_names: props.serverNames === undefined ? undefined : [...props.serverNames],
    transport_protocol: props.transportProtocol,
  };
}

/** The clusters a chain's terminal filter sends to (for the bootstrap's cluster check). */
export function chainClusters(props: FilterChainProps): string[] {
  return [props.tcpProxy?.cluster, props.http?.cluster, ...(props.terminal?.clusters ?? [])].filter((c): c is string => c !== undefined);
}

export function filterChain(props: FilterChainProps): Record<string, unknown> {
  if ([props.tcpProxy, props.http, props.terminal].filter((t) => t !== undefined).length !== 1) {
    throw new Error(`filterChain${props.name === undefined ? "" : ` ${props.name}`}: set exactly one terminal filter, tcpProxy, http or terminal`);
  }
  const terminal = props.tcpProxy !== undefined ? tcpProxyFilter(props.tcpProxy)
    : props.http !== undefined ? httpConnectionManager(props.http) : props.terminal!.filter;
  return {
    filter_chain_match: props.match === undefined ? undefined : filterChainMatch(props.match),
    filters: [...(props.filters ?? []), terminal],
    name: props.name,
  };
}
