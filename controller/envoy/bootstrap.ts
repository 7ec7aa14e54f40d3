/**
 * A standalone Envoy bootstrap: an admin endpoint, one TCP listener whose filter chain is the
 * given wasm network filters in order followed by tcp_proxy, and static clusters.
 */
import { isIP } from "node:net";
import { sortKeys, toYaml } from "../yaml.js";
import type { NetworkFilter } from "./network-filter.js";
import { tcpProxyFilter, type TcpProxyProps } from "./tcp-proxy.js";
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

export interface StaticClusterProps {
  readonly name: string;
  readonly endpoints: readonly SocketAddressProps[];
  /**
   * Connect timeout as a protobuf JSON duration.
   * @default "1s"
   */
  readonly connectTimeout?: string;
}

export interface BootstrapProps {
  /** @default { address: "127.0.0.1", port: 9901 } */
  readonly admin?: AdminProps;
  readonly listener: ListenerProps;
  readonly clusters: readonly StaticClusterProps[];
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bootstrap: ${what} port ${port} must be an integer in [0, 65535]`);
  }
}

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

function cluster(props: StaticClusterProps): Record<string, unknown> {
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
  };
}

/** The bootstrap as a plain object (Envoy YAML field names), validated against Envoy's protos. */
export function bootstrap(props: BootstrapProps): Record<string, unknown> {
  const names = props.clusters.map((c) => c.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`bootstrap: cluster name ${duplicate} is used twice`);
  if (!names.includes(props.listener.tcpProxy.cluster)) {
    throw new Error(
      `bootstrap: tcpProxy.cluster ${JSON.stringify(props.listener.tcpProxy.cluster)} is not a cluster; ` +
        `define it in clusters or use one of: ${names.join(", ") || "(none)"}`,
    );
  }
  const adminPort = props.admin?.port ?? 9901;
  checkPort("admin", adminPort);
  checkPort("listener", props.listener.port);
  const listenerName = props.listener.name ?? "main";
  const config = sortKeys({
    admin: { address: socketAddress(props.admin?.address ?? "127.0.0.1", adminPort) },
    static_resources: {
      clusters: props.clusters.map(cluster),
      listeners: [{
        address: socketAddress(props.listener.address ?? "0.0.0.0", props.listener.port),
        filter_chains: [{ filters: [...props.listener.filters, tcpProxyFilter(props.listener.tcpProxy)] }],
        name: listenerName,
      }],
    },
  });
  assertValidEnvoy(config);
  return config;
}

/** The bootstrap as YAML (sorted keys, pinned schema), with an optional comment header. */
export function bootstrapYaml(props: BootstrapProps, header?: string): string {
  return toYaml(bootstrap(props), header);
}
