/**
 * A standalone Envoy running the sniffer in one mode, with the tcp_proxy pairing and listener
 * layout that mode needs (docs/design/sniffer-contract.md, "Controller"):
 *
 * - route:   listener → sniffer(route) → tcp_proxy IMMEDIATE + max_early_data_bytes; the sniffer
 *            picks the cluster per connection (pairing.ts says why; server-first ports work).
 * - observe: listener → sniffer(observe) → tcp_proxy IMMEDIATE → upstream.
 * - bypass:  tls_inspector + http_inspector; HTTP (raw_buffer with http/1.0, http/1.1 or h2c) goes
 *            to an HTTP chain, everything else to the default chain: sniffer(bypass) → tcp_proxy
 *            IMMEDIATE → the ORIGINAL_DST cluster.
 *
 * `passthrough` (and bypass) connect to the connection's original destination: that needs an
 * iptables REDIRECT in front of Envoy (the listener carries original_dst for it). Without one the
 * original destination is Envoy's own listener.
 */
import type { BootstrapProps, StaticClusterProps } from "../envoy/bootstrap.js";
import type { FilterChainProps } from "../envoy/filter-chain.js";
import { httpInspector, originalDst, PLAINTEXT_HTTP_ALPNS, tlsInspector } from "../envoy/listener-filters.js";
import type { UpstreamConnectMode } from "../envoy/tcp-proxy.js";
import type { WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { effective, routedClusters, snifferConfig, type SnifferConfig, type SnifferMode } from "./config.js";
import { SNIFFER_NAME, snifferFilter } from "./filter.js";
import { pairTcpProxy } from "./pairing.js";
import { snifferStatsTags } from "./stats.js";

export const UPSTREAM_CLUSTER = "upstream";

export interface SnifferStandaloneOptions {
  readonly mode: SnifferMode;
  /** Sniffer configuration fields (contract table); `mode` is set from `mode`. @default {} */
  readonly configuration?: SnifferConfig | Readonly<Record<string, unknown>>;
  /** The protocol on this listener is server-first (MySQL/MariaDB, SMTP); see pairing.ts. @default false */
  readonly serverFirst?: boolean;
  /** @default the mode's pairing (pairing.ts) */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** @default 16384 in mode route (pairing.ts ROUTE_MAX_EARLY_DATA_BYTES); unset otherwise */
  readonly maxEarlyDataBytes?: number;
  /** @default 10000 */
  readonly listenPort?: number;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /**
   * Cluster "upstream": where observe sends everything and bypass sends HTTP; a route target.
   * @default { address: "echo", port: 7000 } (the docker-compose echo service)
   */
  readonly upstream?: { readonly address: string; readonly port: number };
  /** More static clusters that route targets may name. @default [] */
  readonly clusters?: readonly StaticClusterProps[];
  /** Folder holding sniffer.wasm as Envoy sees it. @default "/etc/envoy/wasm" */
  readonly wasmDir?: string;
  /** @default "127.0.0.1" */
  readonly adminAddress?: string;
  /** @default 9901 */
  readonly adminPort?: number;
  /** @default the mode's (filter.ts, defaultSnifferFailurePolicy) */
  readonly failurePolicy?: WasmFailurePolicy;
  /**
   * bypass: how long the listener filters may wait before the connection goes to the default
   * chain. A server-first client sends nothing, so it always waits this long. A binary
   * client-first protocol waits it too from Envoy 1.39, whose http_inspector runs the Balsa
   * parser and decides nothing until it sees a `\n`; Envoy 1.37 and 1.38 run the legacy
   * http-parser, which rules such bytes out at once (http_inspector.cc, runtime guard
   * `http_inspector_use_balsa_parser`).
   * @default "1s"
   */
  readonly listenerFiltersTimeout?: string;
}

export function snifferBootstrapProps(options: SnifferStandaloneOptions): BootstrapProps {
  const mode = options.mode;
  const config = snifferConfig(mode, options.configuration);
  const tcp = pairTcpProxy(mode, config, options);
  const passthrough = effective(config, "passthrough_cluster");
  const upstream: StaticClusterProps = { name: UPSTREAM_CLUSTER, endpoints: [options.upstream ?? { address: "echo", port: 7000 }] };
  const extra = options.clusters ?? [];
  const defined = [upstream, ...extra].map((c) => c.name);
  if (defined.includes(passthrough)) {
    throw new Error(`sniffer: cluster ${JSON.stringify(passthrough)} is the passthrough (ORIGINAL_DST) cluster; give the static cluster another name`);
  }
  const routed = routedClusters(config);
  for (const c of routed) {
    if (c !== passthrough && !defined.includes(c)) {
      throw new Error(
        `sniffer: route target cluster ${JSON.stringify(c)} is not defined; add it to clusters ` +
          `(CLI: --cluster ${c}=host:port) or route to one of: ${[...defined, "passthrough", "deny"].join(", ")}`,
      );
    }
  }
  const usesPassthrough = mode === "bypass" || routed.includes(passthrough);
  const wasmPath = `${(options.wasmDir ?? "/etc/envoy/wasm").replace(/\/+$/, "")}/${SNIFFER_NAME}.wasm`;
  const sniffer = snifferFilter({ config, failurePolicy: options.failurePolicy, wasmPath });
  const statPrefix = `${SNIFFER_NAME}-${mode}`;
  const clusters = [upstream, ...extra, ...(usesPassthrough ? [{ name: passthrough, originalDst: true as const }] : [])];
  const common = {
    admin: { address: options.adminAddress ?? "127.0.0.1", port: options.adminPort ?? 9901 },
    clusters,
    statsTags: snifferStatsTags(),
  };
  const listenerBase = {
    address: options.listenAddress ?? "0.0.0.0",
    name: `${statPrefix}-listener`,
    port: options.listenPort ?? 10000,
  };
  if (mode === "bypass") {
    const httpChain: FilterChainProps = {
      http: { cluster: UPSTREAM_CLUSTER, statPrefix: `${statPrefix}-http` },
      match: { applicationProtocols: PLAINTEXT_HTTP_ALPNS, transportProtocol: "raw_buffer" },
      name: `${statPrefix}-http`,
    };
    return {
      ...common,
      listener: {
        ...listenerBase,
        continueOnListenerFiltersTimeout: true,
        defaultFilterChain: {
          filters: [sniffer],
          name: statPrefix,
          tcpProxy: { cluster: passthrough, statPrefix, ...tcp },
        },
        filterChains: [httpChain],
        // tls_inspector first: http_inspector skips a connection already detected as TLS.
        listenerFilters: [originalDst(), tlsInspector(), httpInspector()],
        listenerFiltersTimeout: options.listenerFiltersTimeout ?? "1s",
      },
    };
  }
  // The cluster tcp_proxy uses when the sniffer sets none (observe; route when the VM failed open).
  const defaultTarget = mode === "route" ? effective(config, "default_route") : UPSTREAM_CLUSTER;
  const cluster = defaultTarget === "passthrough" || defaultTarget === "deny" ? passthrough : defaultTarget;
  if (!clusters.some((c) => c.name === cluster)) clusters.push({ name: cluster, originalDst: true });
  return {
    ...common,
    listener: {
      ...listenerBase,
      filterChains: [{ filters: [sniffer], tcpProxy: { cluster, statPrefix, ...tcp } }],
      listenerFilters: usesPassthrough || cluster === passthrough ? [originalDst()] : undefined,
    },
  };
}

/** Options of the committed envoy/sniffer-<mode>.yaml (admin on 0.0.0.0 for the container). */
export function committedSnifferOptions(mode: SnifferMode): SnifferStandaloneOptions {
  return {
    adminAddress: "0.0.0.0",
    configuration: mode === "route" ? COMMITTED_ROUTE_CONFIGURATION : undefined,
    mode,
  };
}

/** Route example: TLS to its original destination, everything else to the echo upstream. */
const COMMITTED_ROUTE_CONFIGURATION = { default_route: UPSTREAM_CLUSTER, routes: { tls: "passthrough" } } as const;

/** The command that regenerates envoy/sniffer-<mode>.yaml, written into its header. */
export function committedSnifferCommand(mode: SnifferMode): string {
  const config = mode === "route" ? ` --configuration '${JSON.stringify(COMMITTED_ROUTE_CONFIGURATION)}'` : "";
  return `node --import tsx controller/cli.ts render envoy --filter sniffer --mode ${mode} --admin-address 0.0.0.0${config} > envoy/sniffer-${mode}.yaml`;
}
