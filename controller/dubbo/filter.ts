/**
 * The `envoy.filters.network.dubbo_proxy` network filter: Envoy's native Dubbo proxy, terminal,
 * routing every request by the rule set (route-config.ts). Dubbo over Hessian2 is the only
 * protocol/serialization pair Envoy has (dubbo_proxy.proto ProtocolType, SerializationType).
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import type { LoadedRuleSet } from "../rules/load.js";
import { dubboRouteConfiguration } from "./route-config.js";

export const DUBBO_PROXY_FILTER_NAME = "envoy.filters.network.dubbo_proxy";
export const DUBBO_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy";

export interface DubboProxyProps {
  readonly rules: LoadedRuleSet;
  /**
   * Stats are `dubbo.<statPrefix>.*`.
   * @default the rule set's metadata.name
   */
  readonly statPrefix?: string;
}

/** The filter and the rule set's warnings (what only the wasm filter enforces). */
export function dubboProxyFilter(props: DubboProxyProps): { filter: NetworkFilter; warnings: readonly string[] } {
  const { config, warnings } = dubboRouteConfiguration(props.rules);
  return {
    filter: {
      name: DUBBO_PROXY_FILTER_NAME,
      typed_config: {
        "@type": DUBBO_PROXY_TYPE_URL,
        multiple_route_config: config,
        stat_prefix: props.statPrefix ?? props.rules.ruleSet.metadata.name,
      },
    },
    warnings,
  };
}
