/**
 * The `envoy.filters.network.thrift_proxy` network filter: Envoy's native Thrift proxy, terminal,
 * routing every call by the rule set (route-config.ts), with the downstream transport and protocol
 * the services speak.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import type { LoadedRuleSet } from "../rules/load.js";
import { thriftRouteConfiguration } from "./route-config.js";

export const THRIFT_PROXY_FILTER_NAME = "envoy.filters.network.thrift_proxy";
export const THRIFT_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.thrift_proxy.v3.ThriftProxy";

/** thrift_proxy.proto TransportType (AUTO_TRANSPORT detects framed/unframed/header from the first bytes). */
export const THRIFT_TRANSPORTS = ["FRAMED", "UNFRAMED", "HEADER", "AUTO_TRANSPORT"] as const;
export type ThriftTransport = (typeof THRIFT_TRANSPORTS)[number];
/** thrift_proxy.proto ProtocolType, without the deprecated TWITTER. */
export const THRIFT_PROTOCOLS = ["BINARY", "LAX_BINARY", "COMPACT", "AUTO_PROTOCOL"] as const;
export type ThriftProtocol = (typeof THRIFT_PROTOCOLS)[number];

export interface ThriftProxyProps {
  readonly rules: LoadedRuleSet;
  /** @default "FRAMED" (what most Thrift servers speak; Envoy's own default is AUTO_TRANSPORT) */
  readonly transport?: ThriftTransport;
  /** @default "BINARY" (Envoy's own default is AUTO_PROTOCOL) */
  readonly protocol?: ThriftProtocol;
  /**
   * Stats are `thrift.<statPrefix>.*`.
   * @default the rule set's metadata.name
   */
  readonly statPrefix?: string;
}

/** The filter and the rule set's warnings (what only the wasm filter enforces). */
export function thriftProxyFilter(props: ThriftProxyProps): { filter: NetworkFilter; warnings: readonly string[] } {
  const { config, warnings } = thriftRouteConfiguration(props.rules);
  return {
    filter: {
      name: THRIFT_PROXY_FILTER_NAME,
      typed_config: {
        "@type": THRIFT_PROXY_TYPE_URL,
        protocol: props.protocol ?? "BINARY",
        route_config: config,
        stat_prefix: props.statPrefix ?? props.rules.ruleSet.metadata.name,
        transport: props.transport ?? "FRAMED",
      },
    },
    warnings,
  };
}
