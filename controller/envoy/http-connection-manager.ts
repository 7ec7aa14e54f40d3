/**
 * `envoy.filters.network.http_connection_manager` sending every request to one cluster: the HTTP
 * side of a port that also carries raw TCP (the sniffer's bypass layout).
 */
import type { NetworkFilter } from "./network-filter.js";

export const HCM_FILTER_NAME = "envoy.filters.network.http_connection_manager";
export const HCM_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

export interface HttpRouteProps {
  /** Upstream cluster for every request. */
  readonly cluster: string;
  /**
   * Prefix of the HCM's stats (`http.<stat_prefix>.*`).
   * @default the cluster name
   */
  readonly statPrefix?: string;
  /**
   * HTTP filters before the router, in order (e.g. a Wasm HTTP filter).
   * @default [] (the router alone)
   */
  readonly httpFilters?: readonly Record<string, unknown>[];
}

export function httpConnectionManager(props: HttpRouteProps): NetworkFilter {
  if (props.cluster === "") throw new Error("httpConnectionManager: cluster must be a non-empty cluster name");
  return {
    name: HCM_FILTER_NAME,
    typed_config: {
      "@type": HCM_TYPE_URL,
      http_filters: [...(props.httpFilters ?? []), {
        name: "envoy.filters.http.router",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
      }],
      route_config: {
        name: props.cluster,
        virtual_hosts: [{ domains: ["*"], name: props.cluster, routes: [{ match: { prefix: "/" }, route: { cluster: props.cluster } }] }],
      },
      stat_prefix: props.statPrefix ?? props.cluster,
    },
  };
}
