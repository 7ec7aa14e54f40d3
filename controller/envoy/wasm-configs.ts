/**
 * The proxy-wasm plugins a config holds: every `envoy.extensions.wasm.v3.PluginConfig` (the
 * `config` of a network or HTTP Wasm filter, a Wasm access logger or bootstrap Wasm service),
 * found by the validator's walk, so it is found inside any Any and at any depth. For an Istio
 * EnvoyFilter, each patch value is walked as the Envoy message its `applyTo` names.
 */
import { BOOTSTRAP_TYPE, EnvoyValidator } from "./validate.js";
import { formatPath } from "./validation-issue.js";

export const PLUGIN_CONFIG_TYPE = "envoy.extensions.wasm.v3.PluginConfig";

/** One plugin: where it is and what Envoy hands its `proxy_on_configure`. */
export interface WasmPluginConfig {
  /** Path of the PluginConfig object, e.g. `static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config`. */
  readonly path: string;
  /** Path of its `configuration` (an issue about the plugin's JSON belongs there). */
  readonly configurationPath: string;
  /** PluginConfig.name. @default "" */
  readonly name: string;
  /** PluginConfig.root_id (which root context of the module runs it). @default "" */
  readonly rootId: string;
  /** vm_config.vm_id. @default "" */
  readonly vmId: string;
  /** vm_config.code.local.filename when the code is a local file. */
  readonly wasmFile?: string;
  /**
   * The bytes `proxy_on_configure` receives: a StringValue's value, a BytesValue's decoded bytes
   * (as UTF-8), a Struct as JSON text (Envoy serialises it). undefined when unset or of another type.
   */
  readonly configuration?: string;
  /** The configuration Any's type, e.g. `google.protobuf.StringValue`. */
  readonly configurationType?: string;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Every PluginConfig in `config` (a `typeName`, default Bootstrap), in walk order. */
export function wasmPluginConfigs(config: unknown, typeName: string = BOOTSTRAP_TYPE, validator: EnvoyValidator = EnvoyValidator.shared()): WasmPluginConfig[] {
  const found: WasmPluginConfig[] = [];
  validator.visit(config, (visit) => {
    if (visit.typeName !== PLUGIN_CONFIG_TYPE) return;
    const pc = visit.value;
    const vm = obj(pc["vm_config"] ?? pc["vmConfig"]);
    const local = obj(obj(vm["code"])["local"]);
    const configuration = obj(pc["configuration"]);
    const typeUrl = str(configuration["@type"]);
    const configurationType = typeUrl === "" ? undefined : typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
    found.push({
      path: visit.path,
      configurationPath: formatPath([...visit.segments, "configuration"]),
      name: str(pc["name"]),
      rootId: str(pc["root_id"] ?? pc["rootId"]),
      vmId: str(vm["vm_id"] ?? vm["vmId"]),
      wasmFile: typeof local["filename"] === "string" ? local["filename"] : undefined,
      configuration: configurationText(configurationType, configuration["value"]),
      configurationType,
    });
  }, typeName);
  return found;
}

/**
 * The Envoy message an EnvoyFilter patch value holds, per `applyTo`
 * (istio/api networking/v1alpha3/envoy_filter.proto, ApplyTo; istio/istio
 * pilot/pkg/networking/core/envoyfilter applies each to that xDS object).
 */
export const ENVOY_FILTER_PATCH_TYPES: Readonly<Record<string, string>> = {
  LISTENER: "envoy.config.listener.v3.Listener",
  FILTER_CHAIN: "envoy.config.listener.v3.FilterChain",
  NETWORK_FILTER: "envoy.config.listener.v3.Filter",
  HTTP_FILTER: "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter",
  LISTENER_FILTER: "envoy.config.listener.v3.ListenerFilter",
  ROUTE_CONFIGURATION: "envoy.config.route.v3.RouteConfiguration",
  VIRTUAL_HOST: "envoy.config.route.v3.VirtualHost",
  HTTP_ROUTE: "envoy.config.route.v3.Route",
  CLUSTER: "envoy.config.cluster.v3.Cluster",
  EXTENSION_CONFIG: "envoy.config.core.v3.TypedExtensionConfig",
  BOOTSTRAP: "envoy.config.bootstrap.v3.Bootstrap",
};

/**
 * Every PluginConfig in one YAML document: an Istio EnvoyFilter (each `spec.configPatches[i].patch.value`,
 * paths prefixed with where it sits) or else an Envoy Bootstrap.
 */
export function wasmPluginConfigsInDocument(doc: unknown, validator: EnvoyValidator = EnvoyValidator.shared()): WasmPluginConfig[] {
  const d = obj(doc);
  if (d["kind"] !== "EnvoyFilter") return wasmPluginConfigs(doc, BOOTSTRAP_TYPE, validator);
  const patches = obj(d["spec"])["configPatches"];
  if (!Array.isArray(patches)) return [];
  return patches.flatMap((patch, i) => {
    const type = ENVOY_FILTER_PATCH_TYPES[str(obj(patch)["applyTo"])];
    const value = obj(obj(patch)["patch"])["value"];
    if (type === undefined || value === undefined) return [];
    const at = `spec.configPatches[${i}].patch.value`;
    return wasmPluginConfigs(value, type, validator).map((p) => ({
      ...p, path: p.path === "" ? at : `${at}.${p.path}`, configurationPath: `${at}.${p.configurationPath}`,
    }));
  });
}

function configurationText(type: string | undefined, value: unknown): string | undefined {
  switch (type) {
    case "google.protobuf.StringValue":
      return typeof value === "string" ? value : "";
    case "google.protobuf.BytesValue":
      return typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : "";
    case "google.protobuf.Struct":
      return JSON.stringify(value ?? {});
    default:
      return undefined;
  }
}
