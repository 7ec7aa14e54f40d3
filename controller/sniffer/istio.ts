/**
 * Istio EnvoyFilters (networking.istio.io/v1alpha3) deploying the sniffer on a sidecar's inbound
 * port, one layout per mode, for Istio >= 1.29 (Envoy 1.37):
 *
 * - observe: insert the sniffer before tcp_proxy in the port's chains; tcp_proxy stays IMMEDIATE.
 * - route: the same insert, plus a MERGE of tcp_proxy's upstream_connect_mode IMMEDIATE and
 *   max_early_data_bytes (pairing.ts). Istio's inbound tcp_proxy names one cluster
 *   `inbound|<port>||`, never weighted_clusters (which would ignore the sniffer's choice). Both
 *   patches carry a proxyVersion match (controller/istio/proxy-version.ts): a proxy older than
 *   1.29 (Envoy < 1.37) does not NACK the unknown tcp_proxy fields, it drops them with a warning
 *   (dynamic config is parsed with a warning validation visitor, envoy
 *   source/common/protobuf/message_validator_impl.h), and the sniffer without
 *   max_early_data_bytes would hold every connection. The guard keeps the whole EnvoyFilter off
 *   such proxies.
 * - bypass: for a port Istio treats as HTTP, where non-HTTP bytes are parsed by the HTTP
 *   connection manager and dropped. Istio builds that port's plaintext chain on the
 *   `virtualInbound` listener as {destination_port: P, transport_protocol: raw_buffer} with no
 *   application protocols (pilot/pkg/networking/core/filterchain_options.go,
 *   inboundPermissiveHTTPFilterChainMatchWithMxcOptions / inboundPlainTextHTTPFilterChainMatchOptions),
 *   and leaves http_inspector disabled on it, since inspectors are enabled per port only where
 *   some chain lists http/1.1 or h2c (listener_inbound.go, populateListenerFilters) and that is
 *   computed before EnvoyFilters apply. So three patches: (1) ADD an http_inspector enabled only on
 *   P, (2) MERGE application_protocols [http/1.0, http/1.1, h2c] into the port's raw_buffer HTTP
 *   chain, (3) ADD a chain {destination_port: P, transport_protocol: raw_buffer} without
 *   application protocols: network RBAC for the workload's AuthorizationPolicies (rbac.ts) →
 *   sniffer(bypass) → tcp_proxy → InboundPassthroughCluster. Envoy prefers
 *   the chain whose application protocols match, so HTTP keeps Istio's chain and the rest takes
 *   ours. `default_filter_chain` is not used: on virtualInbound every port has chains, and a
 *   listener-wide default would also take plaintext that STRICT mTLS must refuse.
 *
 * Facts from istio/istio pilot/pkg/networking/core: the inbound passthrough cluster is
 * `InboundPassthroughCluster` (util.InboundPassthroughCluster; Istio before dual-stack named it
 * `InboundPassthroughClusterIpv4`/`Ipv6`), an ORIGINAL_DST cluster bound to 127.0.0.6 so the app
 * sees the connection as inbound; on virtualInbound, `match.listener.portNumber` is compared with
 * each chain's filter_chain_match.destination_port, and FILTER_CHAIN ADD ignores portNumber
 * (envoyfilter/listener_patch.go, listenerMatch / filterChainMatch / patchFilterChains).
 */
import { HCM_FILTER_NAME } from "../envoy/http-connection-manager.js";
import { filterChain } from "../envoy/filter-chain.js";
import { httpInspector, PLAINTEXT_HTTP_ALPNS } from "../envoy/listener-filters.js";
import { TCP_PROXY_FILTER_NAME, TCP_PROXY_TYPE_URL, type UpstreamConnectMode } from "../envoy/tcp-proxy.js";
import type { WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { assertValidEnvoy } from "../envoy/validate.js";
import { validateEnvoyFilter } from "../istio/envoy-filter.js";
import { selectPolicies, type AuthorizationPolicyDocument } from "../istio/authorization-policy.js";
import { guardProxyVersion, ISTIO_1_29_OR_LATER } from "../istio/proxy-version.js";
import { sortKeys, toYaml } from "../yaml.js";
import { effective, snifferConfig, type SnifferConfig, type SnifferMode } from "./config.js";
import { SNIFFER_NAME, snifferFilter } from "./filter.js";
import { pairTcpProxy } from "./pairing.js";
import { bypassRbacFilters } from "./rbac.js";

/** Istio's ORIGINAL_DST cluster for inbound traffic (pilot/pkg/networking/util: InboundPassthroughCluster; older releases: InboundPassthroughClusterIpv4 / Ipv6). */
export const ISTIO_INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";
/** The listener on 15006 that takes every redirected inbound connection. */
export const ISTIO_VIRTUAL_INBOUND = "virtualInbound";
/** Proxies that ship Envoy >= 1.37 (Istio 1.29+): `ISTIO_VERSION` as the sidecar reports it. */
export { ISTIO_1_29_OR_LATER } from "../istio/proxy-version.js";

export type PeerAuthenticationMode = "PERMISSIVE" | "DISABLE" | "STRICT";

export interface SnifferEnvoyFilterProps {
  readonly mode: SnifferMode;
  /** The workload's (target) port: what Istio puts in filter_chain_match.destination_port. */
  readonly port: number;
  /** Sniffer configuration fields; `mode` is set from `mode`. @default {} */
  readonly configuration?: SnifferConfig | Readonly<Record<string, unknown>>;
  /** The port's protocol is server-first (MySQL/MariaDB, SMTP); see pairing.ts. @default false */
  readonly serverFirst?: boolean;
  /** @default the mode's pairing (pairing.ts) */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** @default 16384 in mode route (pairing.ts ROUTE_MAX_EARLY_DATA_BYTES); unset otherwise */
  readonly maxEarlyDataBytes?: number;
  /**
   * bypass: the port's PeerAuthentication mode. The added chain takes plaintext, which STRICT
   * refuses, so STRICT is an error.
   * @default "PERMISSIVE"
   */
  readonly peerAuthentication?: PeerAuthenticationMode;
  /**
   * bypass: sets virtualInbound's `listener_filters_timeout` (a protobuf JSON duration such as
   * "1s"); Istio sets it from meshConfig.protocolDetectionTimeout, which is 0 (no timeout) by
   * default. A server-first client sends nothing and waits for this timeout on every release. A
   * binary client-first protocol waits for it only from Envoy 1.39 (Istio 1.31): there
   * http_inspector runs the Balsa parser, which decides nothing until it sees a `\n`. Envoy 1.37
   * and 1.38 (Istio 1.29, 1.30) run the legacy http-parser, which rules out a first byte that
   * starts no HTTP method at once (source/extensions/filters/listener/http_inspector/
   * http_inspector.cc `Filter::Filter`; runtime guard `http_inspector_use_balsa_parser`, false
   * before 1.39, envoy#44679). The setting applies to every port of the listener that runs an
   * inspector.
   * @default undefined (leave Istio's value)
   */
  readonly listenerFiltersTimeout?: string;
  /**
   * bypass: the AuthorizationPolicies of the workload's namespace and of the root namespace
   * (controller/istio/authorization-policy.ts). Those istiod attaches to the workload are
   * rendered as network RBAC before the sniffer on the added chain (rbac.ts). Bypass refuses to
   * render without them unless `noAuthorizationPolicies` says the workload has none.
   * @default undefined
   */
  readonly authorizationPolicies?: readonly AuthorizationPolicyDocument[];
  /** bypass: the workload has no AuthorizationPolicy (the added chain then enforces none). @default false */
  readonly noAuthorizationPolicies?: boolean;
  /** bypass: meshConfig.rootNamespace, whose policies apply to every namespace. @default "istio-system" */
  readonly rootNamespace?: string;
  /**
   * bypass: the Service port's name as Istio reads it for protocol selection (`http-web`,
   * `grpc`, …). With `appProtocol`, one of the two must make the port HTTP for Istio.
   * @default undefined
   */
  readonly portName?: string;
  /** bypass: the Service port's `appProtocol` (wins over the name, as in Istio). @default undefined */
  readonly appProtocol?: string;
  /** @default `protomesh-sniffer-<mode>-<port>` */
  readonly name?: string;
  /** @default undefined (the namespace kubectl applies it to) */
  readonly namespace?: string;
  /** @default undefined (every workload in the namespace) */
  readonly workloadLabels?: Readonly<Record<string, string>>;
  /** Path of sniffer.wasm inside istio-proxy. @default "/var/local/lib/wasm/sniffer.wasm" */
  readonly wasmPath?: string;
  /** @default the mode's (filter.ts, defaultSnifferFailurePolicy) */
  readonly failurePolicy?: WasmFailurePolicy;
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`snifferEnvoyFilter: port ${port} must be a workload port in [1, 65535]`);
  }
  if (port === 15006 || port === 15001) {
    throw new Error(`snifferEnvoyFilter: port ${port} is the sidecar's own redirect port; give the workload's port`);
  }
}

/** The EnvoyFilter as a plain object, validated against Istio's schema and Envoy's protos. */
export function snifferEnvoyFilter(props: SnifferEnvoyFilterProps): Record<string, unknown> {
  checkPort(props.port);
  const mode = props.mode;
  const name = props.name ?? `protomesh-${SNIFFER_NAME}-${mode}-${props.port}`;
  if (name.length > 253 || !DNS_1123.test(name)) {
    throw new Error(`snifferEnvoyFilter: name ${JSON.stringify(name)} must be a DNS-1123 label (lower-case letters, digits, '-')`);
  }
  // In a sidecar the original-destination cluster is Istio's, not the filter's default name.
  const input = mode === "observe" ? props.configuration : { passthrough_cluster: ISTIO_INBOUND_PASSTHROUGH_CLUSTER, ...props.configuration };
  const config = snifferConfig(mode, input);
  const tcp = pairTcpProxy(mode, config, props);
  const sniffer = snifferFilter({ config, failurePolicy: props.failurePolicy, wasmPath: props.wasmPath ?? `/var/local/lib/wasm/${SNIFFER_NAME}.wasm` });
  assertValidEnvoy(sniffer, "envoy.config.listener.v3.Filter");

  const tcpProxyMatch = { filterChain: { filter: { name: TCP_PROXY_FILTER_NAME } }, portNumber: props.port };
  const insert = (proxyVersion?: string): Record<string, unknown> => ({
    applyTo: "NETWORK_FILTER",
    match: { context: "SIDECAR_INBOUND", listener: tcpProxyMatch, proxy: proxyVersion === undefined ? undefined : { proxyVersion } },
    patch: { operation: "INSERT_BEFORE", value: sniffer },
  });
  let configPatches: Record<string, unknown>[];
  if (mode === "observe") {
    configPatches = [insert()];
  } else if (mode === "route") {
    const merge = {
      name: TCP_PROXY_FILTER_NAME,
      typed_config: { "@type": TCP_PROXY_TYPE_URL, max_early_data_bytes: tcp.maxEarlyDataBytes, upstream_connect_mode: tcp.upstreamConnectMode },
    };
    // A MERGE value is partial (no stat_prefix); check it as merged into a tcp_proxy like Istio's.
    assertValidEnvoy(
      { ...merge, typed_config: { ...merge.typed_config, cluster: `inbound|${props.port}||`, stat_prefix: `inbound|${props.port}||` } },
      "envoy.config.listener.v3.Filter",
    );
    configPatches = [
      insert(ISTIO_1_29_OR_LATER),
      {
        applyTo: "NETWORK_FILTER",
        match: { context: "SIDECAR_INBOUND", listener: tcpProxyMatch, proxy: { proxyVersion: ISTIO_1_29_OR_LATER } },
        patch: { operation: "MERGE", value: merge },
      },
    ];
  } else {
    configPatches = bypassPatches(props, effective(config, "passthrough_cluster"), sniffer);
  }
  const resource = sortKeys({
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name, namespace: props.namespace },
    spec: {
      configPatches: guardProxyVersion(configPatches),
      workloadSelector: props.workloadLabels === undefined ? undefined : { labels: { ...props.workloadLabels } },
    },
  });
  validateEnvoyFilter(resource);
  return resource;
}

function bypassPatches(props: SnifferEnvoyFilterProps, passthrough: string, sniffer: ReturnType<typeof snifferFilter>): Record<string, unknown>[] {
  const peer = props.peerAuthentication ?? "PERMISSIVE";
  if (peer === "STRICT") {
    throw new Error(
      "sniffer: mode bypass adds a plaintext (raw_buffer) chain on the port, which PeerAuthentication STRICT must refuse; " +
        "use PERMISSIVE or DISABLE for this port (portLevelMtls), or mode observe",
    );
  }
  checkBypassPortIsHttp(props);
  const rbac = bypassAuthorization(props);
  const inspector = httpInspector({ onlyOnPort: props.port });
  assertValidEnvoy(inspector, "envoy.config.listener.v3.ListenerFilter");
  const narrowHttp = { filter_chain_match: { application_protocols: [...PLAINTEXT_HTTP_ALPNS] } };
  assertValidEnvoy(narrowHttp, "envoy.config.listener.v3.FilterChain");
  // tcp_proxy's connect mode stays Envoy's default (IMMEDIATE): rendering the 1.37 field would
  // only add a field that needs the proxyVersion guard (proxy-version.ts) for nothing.
  const chain = filterChain({
    // RBAC first, as on Istio's TCP chains (networkfilter.go): a denied client is closed on its
    // first bytes, before the sniffer or tcp_proxy see them.
    filters: [...rbac, sniffer],
    match: { destinationPort: props.port, transportProtocol: "raw_buffer" },
    name: `protomesh-${SNIFFER_NAME}-bypass-${props.port}`,
    tcpProxy: { cluster: passthrough, statPrefix: passthrough },
  });
  assertValidEnvoy(chain, "envoy.config.listener.v3.FilterChain");
  const timeout = props.listenerFiltersTimeout;
  if (timeout !== undefined && !/^\d+(\.\d{1,9})?s$/.test(timeout)) {
    throw new Error(`snifferEnvoyFilter: listenerFiltersTimeout ${JSON.stringify(timeout)} must be a duration such as "1s"`);
  }
  const inbound = { context: "SIDECAR_INBOUND", listener: { name: ISTIO_VIRTUAL_INBOUND } };
  // istiod 1.29 does not compare filterChain.filter for FILTER_CHAIN patches (listener_patch.go,
  // filterChainMatch); on an HTTP port (checkBypassPortIsHttp) portNumber + raw_buffer already
  // single out the port's plaintext HTTP chain,
  // and the filter name keeps the intent readable and exact should istiod start checking it.
  const listenerTimeout = timeout === undefined ? [] : [{
    applyTo: "LISTENER",
    match: inbound,
    patch: { operation: "MERGE", value: { listener_filters_timeout: timeout } },
  }];
  return [
    ...listenerTimeout,
    { applyTo: "LISTENER_FILTER", match: inbound, patch: { operation: "ADD", value: inspector } },
    {
      applyTo: "FILTER_CHAIN",
      match: {
        context: "SIDECAR_INBOUND",
        listener: {
          filterChain: { filter: { name: HCM_FILTER_NAME }, transportProtocol: "raw_buffer" },
          name: ISTIO_VIRTUAL_INBOUND,
          portNumber: props.port,
        },
      },
      patch: { operation: "MERGE", value: narrowHttp },
    },
    { applyTo: "FILTER_CHAIN", match: inbound, patch: { operation: "ADD", value: chain } },
  ];
}

/** Istio's port protocols (istio/istio pkg/config/protocol/instance.go Parse); IsHTTP: HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-Web. */
const ISTIO_HTTP_PROTOCOLS = new Set(["http", "http2", "http_proxy", "grpc", "grpc-web"]);
const ISTIO_PROTOCOLS = new Set([...ISTIO_HTTP_PROTOCOLS, "tcp", "udp", "https", "tls", "mongo", "redis", "mysql"]);
/** Ports istiod treats as TCP when the name gives no protocol (pkg/config/kube/conversion.go wellKnownPorts). */
const ISTIO_WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/**
 * The protocol istiod derives for a Service port (istio/istio release-1.29
 * pkg/config/kube/conversion.go ConvertProtocol): `appProtocol` if set (kubernetes.io/h2c →
 * http2, kubernetes.io/ws → http, kubernetes.io/wss → https), else the port name; a `grpc-web`
 * prefix, else the part before the first `-`, parsed case-insensitively. Nothing recognised →
 * "auto" (protocol detection), except on the well-known TCP ports.
 */
export function istioPortProtocol(port: number, portName?: string, appProtocol?: string): string {
  let name = portName ?? "";
  if (appProtocol !== undefined) {
    name = appProtocol;
    const k8s: Record<string, string> = { "kubernetes.io/h2c": "http2", "kubernetes.io/ws": "http", "kubernetes.io/wss": "https" };
    if (k8s[name] !== undefined) return k8s[name]!;
  }
  if (name.toLowerCase().startsWith("grpc-web")) return "grpc-web";
  const prefix = name.split("-")[0]!.toLowerCase();
  if (ISTIO_PROTOCOLS.has(prefix)) return prefix;
  return ISTIO_WELL_KNOWN_TCP_PORTS.has(port) ? "tcp" : "auto";
}

/**
 * Bypass patches Istio's plaintext HTTP chain of the port, and only an HTTP port has exactly one
 * such chain. istiod matches a FILTER_CHAIN patch on port and transport protocol and never
 * compares `filterChain.filter` (listener_patch.go, filterChainMatch), so elsewhere the MERGE hits
 * Istio's TCP chain too: on a detected ("auto") port it turns the TCP chain into a copy of the HTTP
 * chain's match, Envoy refuses virtualInbound ("multiple filter chains with the same matching
 * rules are defined", source/common/listener_manager/filter_chain_manager_impl.cc) and every
 * inbound port of the pod stops taking new configuration; on a TCP port it narrows Istio's TCP
 * chain to HTTP and moves every other connection onto the added chain.
 */
function checkBypassPortIsHttp(props: SnifferEnvoyFilterProps): void {
  if (props.portName === undefined && props.appProtocol === undefined) {
    throw new Error(
      `sniffer: mode bypass needs to know that Istio treats port ${props.port} as HTTP: give the Service port's name ` +
        "(portName / --port-name, e.g. http-web) or its appProtocol (appProtocol / --app-protocol, e.g. http); " +
        "bypass patches Istio's plaintext HTTP chain, and on any other port the patches break the listener or Istio's TCP chain",
    );
  }
  const protocol = istioPortProtocol(props.port, props.portName, props.appProtocol);
  if (ISTIO_HTTP_PROTOCOLS.has(protocol)) return;
  const given = props.appProtocol !== undefined ? `appProtocol ${JSON.stringify(props.appProtocol)}` : `port name ${JSON.stringify(props.portName)}`;
  if (protocol === "auto") {
    throw new Error(
      `sniffer: mode bypass refused: ${given} names no protocol, so Istio detects the protocol on port ${props.port} and builds both a ` +
        "plaintext HTTP chain and a plaintext TCP chain; istiod applies bypass's FILTER_CHAIN MERGE to both (it compares port and " +
        "transport protocol, never the filter), the two chains end up with the same match and Envoy refuses the virtualInbound " +
        "listener ('multiple filter chains with the same matching rules are defined'), which stops configuration of every inbound " +
        "port. Istio's detection already sends non-HTTP to its TCP chain here, so bypass is not needed; if the port serves HTTP, " +
        "name it http-… or set appProtocol: http on the Service",
    );
  }
  throw new Error(
    `sniffer: mode bypass refused: with ${given} Istio serves port ${props.port} as ${protocol}, a TCP chain whose tcp_proxy already ` +
      "takes non-HTTP bytes; istiod would apply bypass's FILTER_CHAIN MERGE to that chain too (it never compares the filter), " +
      "narrowing it to HTTP and moving every other connection off Istio's chain. Use mode observe or route on this port",
  );
}

/** The RBAC filters for the added chain, or [] when the caller states the workload has no policy. */
function bypassAuthorization(props: SnifferEnvoyFilterProps): ReturnType<typeof bypassRbacFilters> {
  const given = props.authorizationPolicies;
  if (props.noAuthorizationPolicies === true) {
    if (given !== undefined && given.length > 0) {
      throw new Error("sniffer: authorizationPolicies and noAuthorizationPolicies contradict each other; give one");
    }
    return [];
  }
  if (given === undefined || given.length === 0) {
    throw new Error(
      "sniffer: mode bypass adds a plaintext chain that istiod does not build, so it carries none of the workload's " +
        "AuthorizationPolicies; without them, non-HTTP bytes would reach the workload where Istio's chains deny them. Give the " +
        "policies of the workload's namespace and of the root namespace (--authorization-policy <file...>, e.g. from " +
        "`kubectl get authorizationpolicies -n <ns> -o yaml` and `-n istio-system`), or state that none applies " +
        "(--no-authorization-policies)",
    );
  }
  const { applied } = selectPolicies(given, { labels: props.workloadLabels, namespace: props.namespace, rootNamespace: props.rootNamespace });
  const filters = bypassRbacFilters({ defaultNamespace: props.namespace, policies: applied, statPrefix: `protomesh_bypass_${props.port}.` });
  for (const f of filters) assertValidEnvoy(f, "envoy.config.listener.v3.Filter");
  return filters;
}

export function snifferEnvoyFilterYaml(props: SnifferEnvoyFilterProps, header?: string): string {
  return toYaml(snifferEnvoyFilter(props), header);
}
