/**
 * Checks every Wasm plugin configuration inside a rendered or hand-written Envoy config (a
 * Bootstrap, or an Istio EnvoyFilter's patches): the configuration against its filter's schema
 * (by root id, ./index.ts), and the sniffer's route targets against the clusters the config
 * defines. Pure: finds the Wasm typed_configs itself by their `@type`.
 */
import { routedClusters, type SnifferConfig } from "../sniffer/config.js";
import { checkConfiguration } from "./index.js";
import { fieldPath } from "./fields.js";

const WASM_TYPE_SUFFIX = ".wasm.v3.Wasm";
const STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue";

export interface WasmPluginConfig {
  /** Where the Wasm typed_config sits, e.g. `static_resources.listeners[0].filter_chains[0].filters[0].typed_config`. */
  readonly path: string;
  readonly rootId: string;
  /** The configuration text (StringValue `value`), "" when absent. */
  readonly configuration: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Every Wasm typed_config (network or HTTP filter) in `config`, in document order. */
export function wasmPluginConfigs(config: unknown): WasmPluginConfig[] {
  const out: WasmPluginConfig[] = [];
  const walk = (v: unknown, path: PropertyKey[]): void => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...path, i]));
      return;
    }
    if (!isRecord(v)) return;
    const type = v["@type"];
    if (typeof type === "string" && type.endsWith(WASM_TYPE_SUFFIX)) {
      const plugin = isRecord(v["config"]) ? v["config"] : {};
      const any = plugin["configuration"];
      const text = isRecord(any) && any["@type"] === STRING_VALUE_TYPE && typeof any["value"] === "string" ? any["value"] : "";
      out.push({ path: fieldPath(path), rootId: typeof plugin["root_id"] === "string" ? plugin["root_id"] : "", configuration: text });
      return;
    }
    for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
  };
  walk(config, []);
  return out;
}

/**
 * What decides which clusters exist: a Bootstrap's `static_resources.clusters` (checkable), CDS
 * (clusters arrive at run time: not checkable), or istiod for an EnvoyFilter (its clusters are
 * `outbound|port|subset|host` names built from the service registry: only their syntax is checked).
 */
export function definedClusters(config: unknown): { readonly names?: ReadonlySet<string>; readonly why?: string } {
  if (!isRecord(config)) return { why: "not an Envoy config" };
  if (config["kind"] === "EnvoyFilter") {
    return { why: "cluster names in an Istio EnvoyFilter come from istiod's service registry; only their syntax is checked" };
  }
  const dynamic = config["dynamic_resources"];
  if (isRecord(dynamic) && dynamic["cds_config"] !== undefined) {
    return { why: "clusters arrive over CDS; route targets cannot be checked against them here" };
  }
  const statics = isRecord(config["static_resources"]) ? config["static_resources"] : {};
  const clusters = Array.isArray(statics["clusters"]) ? statics["clusters"] : [];
  return { names: new Set(clusters.flatMap((c) => (isRecord(c) && typeof c["name"] === "string" ? [c["name"]] : []))) };
}

/**
 * Problems in the Wasm plugin configurations of `config`, each `<path>: <filter>: invalid
 * configuration: <why>` in the filter's words, plus sniffer route targets that name a cluster the
 * Bootstrap does not define. Empty when every configuration would load.
 */
export function checkPluginConfigurations(config: unknown): string[] {
  const problems: string[] = [];
  const clusters = definedClusters(config);
  for (const plugin of wasmPluginConfigs(config)) {
    const at = `${plugin.path}.config.configuration`;
    const found = checkConfiguration(plugin.rootId, plugin.configuration);
    for (const why of found) problems.push(`${at}: ${plugin.rootId}: invalid configuration: ${why}`);
    if (found.length > 0 || plugin.rootId !== "sniffer" || clusters.names === undefined) continue;
    if (/^[ \t\n\r]*$/.test(plugin.configuration)) continue;
    const sniffer = JSON.parse(plugin.configuration) as SnifferConfig;
    for (const cluster of routedClusters(sniffer)) {
      if (!clusters.names.has(cluster)) {
        problems.push(`${at}: sniffer routes to cluster ${JSON.stringify(cluster)}, which static_resources.clusters does not define` +
          ` (defined: ${[...clusters.names].sort().join(", ") || "none"})`);
      }
    }
  }
  return problems;
}
