/**
 * The standalone bootstrap of the per-request deployment: one listener whose chain ends in a native
 * RPC proxy (dubbo_proxy or thrift_proxy) that routes each call, and one static cluster per
 * cluster the rule set names.
 *
 *   listener → [protomesh wasm filter: policy, faults, telemetry] → dubbo_proxy | thrift_proxy → clusters
 */
import type { BootstrapProps, SocketAddressProps, StaticClusterProps } from "../envoy/bootstrap.js";
import type { NetworkFilter } from "../envoy/network-filter.js";
import type { LoadedRuleSet } from "./load.js";
import { routedClusters } from "./native.js";

export interface PerRequestProps {
  readonly rules: LoadedRuleSet;
  /**
   * Endpoints per cluster name. A routed cluster missing here gets `<cluster name>:<defaultPort>`
   * (a compose service or Kubernetes Service named like the cluster).
   * @default {}
   */
  readonly endpoints?: Readonly<Record<string, readonly SocketAddressProps[]>>;
  /** Port of a cluster's default endpoint. */
  readonly defaultPort: number;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /** @default { address: "127.0.0.1", port: 9901 } */
  readonly admin?: BootstrapProps["admin"];
  /** Network filters before the proxy (the protomesh wasm filter). @default [] */
  readonly filters?: readonly NetworkFilter[];
}

/** Bootstrap props for `terminal` (the rendered proxy filter) in front of the rule set's clusters. */
export function perRequestBootstrapProps(props: PerRequestProps, terminal: NetworkFilter): BootstrapProps {
  const names = routedClusters(props.rules.ruleSet.spec.rules);
  const endpoints = props.endpoints ?? {};
  for (const extra of Object.keys(endpoints)) {
    if (!names.includes(extra)) {
      throw new Error(`cluster ${extra} is not routed to by any rule of ${props.rules.file}; rules route to: ${names.join(", ")}`);
    }
  }
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
      filterChains: [{ filters: props.filters ?? [], terminal: { filter: terminal, clusters: names } }],
    },
  };
}
