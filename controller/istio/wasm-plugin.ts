/**
 * An Istio WasmPlugin (extensions.istio.io/v1alpha1, `type: NETWORK`) running one protomesh filter
 * on a sidecar's inbound port: the way Istio >= 1.29 wants a wasm network filter that only observes
 * (tcp-stats, the sniffer in mode observe). Filters that must patch tcp_proxy or add a filter chain
 * (sniffer route, bypass) still need an EnvoyFilter (controller/sniffer/istio.ts): a WasmPlugin
 * only places a filter.
 *
 * What istiod 1.29 makes of it (istio/istio release-1.29):
 * - pilot/pkg/model/extensions.go buildPluginConfig: Envoy PluginConfig name `<namespace>.<name>`,
 *   root_id = `pluginName` (our modules answer to their folder name), configuration = the JSON of
 *   `pluginConfig` in a StringValue, code from `url` (`file://` → a local file in istio-proxy;
 *   `oci://` (the default scheme), `http(s)://` → fetched by istio-agent, checked against `sha256`),
 *   failStrategy FAIL_CLOSE / FAIL_OPEN / FAIL_RELOAD → `failure_policy` FAIL_CLOSED / FAIL_OPEN /
 *   FAIL_RELOAD. Istio never sets `fail_open`, so with FAIL_OPEN the connections already on a VM
 *   when it fails are still closed (proxy-wasm-cpp-host CHECK_FAIL_NET reads PluginBase::fail_open_,
 *   which Envoy fills from `fail_open` only); later connections skip the filter. The EnvoyFilter
 *   rendering (`--kind envoyfilter`) sets `fail_open: true` and keeps those too.
 * - pilot/pkg/networking/core/extension/wasmplugin.go: the listener holds only a name and an ECDS
 *   `config_discovery` (initial_fetch_timeout 0: the proxy waits for it at start); the PluginConfig
 *   comes over ECDS as `extensions.istio.io/wasmplugin/<namespace>.<name>`.
 * - pilot/pkg/networking/core/networkfilter.go buildCompleteNetworkFilters (TCP chains) orders an
 *   inbound chain: istio.metadata_exchange, CUSTOM ext_authz, AUTHN plugins, AUTHZ plugins,
 *   network RBAC, STATS plugins, unspecified-phase plugins, istio.stats, then tcp_proxy.
 *   listener_inbound.go buildInboundNetworkFiltersForHTTP puts the same phases before the HTTP
 *   connection manager on the port's HTTP chains. Every phase is before tcp_proxy; we use STATS:
 *   after authorization (a connection RBAC denies is not classified as if it had been served) and
 *   next to Istio's own stats filter, which is where telemetry belongs. Within a phase plugins run
 *   by descending `priority`, then creation time (pilot/pkg/model/push_context.go,
 *   WasmPluginsByListenerInfo).
 * - match: `mode: SERVER` is inbound only; `ports` compares the port the workload listens on
 *   (extensions.go matchPorts; api extensions/v1alpha1/wasm.proto TrafficSelector). Unlike the
 *   EnvoyFilter, which matched only chains ending in tcp_proxy, the plugin runs on every inbound
 *   chain of the port, its HTTP chains included.
 *
 * Validation: @kubernetes-models/istio (2.3.0) checks the schema it knows; it predates `type`,
 * `failStrategy` and the CRD's CEL/pattern rules, so validateWasmPlugin() also checks those against
 * istio/api release-1.29 extensions/v1alpha1/wasm.proto.
 */
import { WasmPlugin } from "@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin";
import type { WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { filterSpec } from "../filters.js";
import { snifferConfig, type SnifferMode } from "../sniffer/config.js";
import { defaultSnifferFailurePolicy, SNIFFER_NAME } from "../sniffer/filter.js";
import { sortKeys, toYaml } from "../yaml.js";

export const WASM_PLUGIN_PHASES = ["AUTHN", "AUTHZ", "STATS"] as const;
export type WasmPluginPhase = (typeof WASM_PLUGIN_PHASES)[number];

/** api extensions/v1alpha1/wasm.proto FailStrategy, by the Envoy policy it becomes (extensions.go). */
const FAIL_STRATEGY: Readonly<Record<WasmFailurePolicy, string>> = {
  FAIL_CLOSED: "FAIL_CLOSE",
  FAIL_OPEN: "FAIL_OPEN",
  FAIL_RELOAD: "FAIL_RELOAD",
};

export interface WasmPluginProps {
  /** "tcp-stats" (controller/filters.ts) or "sniffer" (mode observe only). */
  readonly filter: string;
  /** The workload's port: match.ports. */
  readonly port: number;
  /**
   * Sniffer only: the mode. Only observe runs as a WasmPlugin; route and bypass patch tcp_proxy or
   * add a filter chain, which needs an EnvoyFilter.
   * @default "observe"
   */
  readonly mode?: SnifferMode;
  /** Plugin configuration (`pluginConfig`). @default the filter's default configuration */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /**
   * Where istio-agent / Envoy gets the module: `oci://registry/repo:tag` (or `@sha256:…`),
   * `https://…` (needs `sha256`), or `file:///path` inside istio-proxy (mount it, e.g. with
   * sidecar.istio.io/userVolumeMount).
   * @default `file:///var/local/lib/wasm/<filter>.wasm`
   */
  readonly url?: string;
  /** SHA-256 of the module (64 lower-case hex digits); required for http(s) URLs. @default undefined */
  readonly sha256?: string;
  /** @default the filter's (tcp-stats: FAIL_OPEN; sniffer observe: FAIL_OPEN) */
  readonly failurePolicy?: WasmFailurePolicy;
  /** @default "STATS" */
  readonly phase?: WasmPluginPhase;
  /** Order within the phase (higher first). @default undefined (Istio: lowest) */
  readonly priority?: number;
  /** @default `protomesh-<filter>-<port>` (sniffer: `protomesh-sniffer-observe-<port>`) */
  readonly name?: string;
  /** @default undefined (the namespace kubectl applies it to; the root namespace = mesh-wide) */
  readonly namespace?: string;
  /** Pod labels selecting the workloads (`selector.matchLabels`). @default undefined (every workload in the namespace) */
  readonly workloadLabels?: Readonly<Record<string, string>>;
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SHA256 = /^[a-f0-9]{64}$/;
const URL_SCHEMES = ["oci", "file", "https", "http"] as const;

interface Resolved {
  readonly defaultName: string;
  readonly configuration: Readonly<Record<string, unknown>>;
  readonly failurePolicy: WasmFailurePolicy;
}

function resolve(props: WasmPluginProps): Resolved {
  if (props.filter === SNIFFER_NAME) {
    const mode = props.mode ?? "observe";
    if (mode !== "observe") {
      throw new Error(
        `wasmPlugin: the sniffer in mode ${mode} cannot be a WasmPlugin: ` +
          (mode === "route"
            ? "it needs tcp_proxy's early reads (a MERGE into tcp_proxy), which only an EnvoyFilter can patch"
            : "it adds its own filter chain next to Istio's HTTP chain, which only an EnvoyFilter can add") +
          `; render it with --kind envoyfilter`,
      );
    }
    const config = snifferConfig(mode, props.configuration);
    return {
      configuration: config as Readonly<Record<string, unknown>>,
      defaultName: `protomesh-${SNIFFER_NAME}-${mode}-${props.port}`,
      failurePolicy: defaultSnifferFailurePolicy(config),
    };
  }
  if (props.mode !== undefined) throw new Error(`wasmPlugin: mode applies to the ${SNIFFER_NAME} only; remove it for ${props.filter}`);
  const spec = filterSpec(props.filter);
  return {
    configuration: props.configuration ?? spec.defaultConfiguration,
    defaultName: `protomesh-${spec.name}-${props.port}`,
    failurePolicy: spec.failurePolicy,
  };
}

/** The url/sha256 pair, checked the way the module will be fetched (extensions.go buildDataSource). */
function checkSource(url: string, sha256: string | undefined): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.+)$/.exec(url);
  if (m === null || !(URL_SCHEMES as readonly string[]).includes(m[1]!)) {
    throw new Error(
      `wasmPlugin: url ${JSON.stringify(url)} must start with ${URL_SCHEMES.map((s) => `${s}://`).join(", ")} ` +
        `(e.g. oci://registry.example/protomesh/sniffer:1.0 or file:///var/local/lib/wasm/sniffer.wasm)`,
    );
  }
  const scheme = m[1]!;
  if (sha256 !== undefined && !SHA256.test(sha256)) {
    throw new Error(`wasmPlugin: sha256 ${JSON.stringify(sha256)} must be 64 lower-case hex digits (sha256sum of the .wasm)`);
  }
  if ((scheme === "https" || scheme === "http") && sha256 === undefined) {
    throw new Error(`wasmPlugin: url ${url} is fetched over ${scheme}: give sha256 (sha256sum of the .wasm) so the proxy checks what it runs`);
  }
  if (scheme === "file" && sha256 !== undefined) {
    throw new Error(
      `wasmPlugin: sha256 is not checked for file:// URLs (istiod hands Envoy a local file, pilot/pkg/model/extensions.go buildDataSource); remove it or use oci:// / https://`,
    );
  }
  const digest = /@sha256:([a-f0-9]{64})$/.exec(url);
  if (scheme === "oci" && digest !== null && sha256 !== undefined && digest[1] !== sha256) {
    throw new Error(`wasmPlugin: sha256 ${sha256} differs from the digest in url ${url}; they must match`);
  }
}

/** The WasmPlugin as a plain object, validated (validateWasmPlugin). */
export function wasmPlugin(props: WasmPluginProps): Record<string, unknown> {
  if (!Number.isInteger(props.port) || props.port < 1 || props.port > 65535) {
    throw new Error(`wasmPlugin: port ${props.port} must be a workload port in [1, 65535]`);
  }
  if (props.port === 15006 || props.port === 15001) {
    throw new Error(`wasmPlugin: port ${props.port} is the sidecar's own redirect port; give the workload's port`);
  }
  const resolved = resolve(props);
  const name = props.name ?? resolved.defaultName;
  if (name.length > 253 || !DNS_1123.test(name)) {
    throw new Error(`wasmPlugin: name ${JSON.stringify(name)} must be a DNS-1123 label (lower-case letters, digits, '-')`);
  }
  const url = props.url ?? `file:///var/local/lib/wasm/${props.filter}.wasm`;
  checkSource(url, props.sha256);
  const phase = props.phase ?? "STATS";
  if (!(WASM_PLUGIN_PHASES as readonly string[]).includes(phase)) {
    throw new Error(`wasmPlugin: phase ${JSON.stringify(phase)} must be one of ${WASM_PLUGIN_PHASES.join(", ")}`);
  }
  const policy = props.failurePolicy ?? resolved.failurePolicy;
  const failStrategy = FAIL_STRATEGY[policy];
  if (failStrategy === undefined) {
    throw new Error(`wasmPlugin: failurePolicy ${JSON.stringify(policy)} must be one of ${Object.keys(FAIL_STRATEGY).join(", ")}`);
  }
  const configuration = resolved.configuration;
  const resource = sortKeys({
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: props.namespace },
    spec: {
      failStrategy,
      match: [{ mode: "SERVER", ports: [{ number: props.port }] }],
      phase,
      // Istio sends no configuration for an empty Struct (extensions.go); our filters read that as {}.
      pluginConfig: Object.keys(configuration).length === 0 ? undefined : configuration,
      pluginName: props.filter,
      priority: props.priority,
      selector: props.workloadLabels === undefined ? undefined : { matchLabels: { ...props.workloadLabels } },
      sha256: props.sha256,
      type: "NETWORK",
      url,
    },
  });
  validateWasmPlugin(resource);
  return resource;
}

/**
 * Throws when `resource` is not a WasmPlugin istiod 1.29 accepts: @kubernetes-models/istio's schema,
 * plus the fields it does not know (istio/api release-1.29 extensions/v1alpha1/wasm.proto: `type`
 * PluginType, `failStrategy` FailStrategy, sha256 `(^$|^[a-f0-9]{64}$)`, pluginName 1..256
 * characters, url scheme in [http, https, file, oci], priority an int32, ports 1..65535).
 */
export function validateWasmPlugin(resource: unknown): void {
  try {
    new WasmPlugin(resource as ConstructorParameters<typeof WasmPlugin>[0]).validate();
  } catch (err) {
    throw new Error(`invalid WasmPlugin: ${(err as Error).message}`);
  }
  const spec = ((resource as Record<string, unknown>).spec ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const oneOf = (field: string, allowed: readonly string[]): void => {
    const v = spec[field];
    if (v !== undefined && !allowed.includes(v as string)) problems.push(`spec.${field} ${JSON.stringify(v)} must be one of ${allowed.join(", ")}`);
  };
  oneOf("type", ["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]);
  oneOf("failStrategy", ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]);
  oneOf("phase", ["UNSPECIFIED_PHASE", ...WASM_PLUGIN_PHASES]);
  if (typeof spec.url !== "string" || !/^(https?|file|oci):\/\/./.test(spec.url)) problems.push(`spec.url ${JSON.stringify(spec.url)} must be an http, https, file or oci URL`);
  if (spec.sha256 !== undefined && !/^$|^[a-f0-9]{64}$/.test(String(spec.sha256))) problems.push(`spec.sha256 must match (^$|^[a-f0-9]{64}$)`);
  if (spec.pluginName !== undefined && (typeof spec.pluginName !== "string" || spec.pluginName.length < 1 || spec.pluginName.length > 256)) {
    problems.push("spec.pluginName must be 1 to 256 characters");
  }
  const priority = spec.priority;
  if (priority !== undefined && (!Number.isInteger(priority) || (priority as number) < -(2 ** 31) || (priority as number) >= 2 ** 31)) {
    problems.push(`spec.priority ${String(priority)} must be an int32`);
  }
  for (const [i, m] of ((spec.match ?? []) as Array<{ ports?: Array<{ number?: unknown }> }>).entries()) {
    for (const [j, p] of (m.ports ?? []).entries()) {
      if (!Number.isInteger(p.number) || (p.number as number) < 1 || (p.number as number) > 65535) {
        problems.push(`spec.match[${i}].ports[${j}].number ${String(p.number)} must be a port in [1, 65535]`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`invalid WasmPlugin: ${problems.join("; ")}`);
}

export function wasmPluginYaml(props: WasmPluginProps, header?: string): string {
  return toYaml(wasmPlugin(props), header);
}
