/**
 * Checks every Wasm plugin configuration inside a rendered or hand-written Envoy config (a
 * Bootstrap, or an Istio EnvoyFilter's patches): the configuration against its filter's schema
 * (by root id, ./index.ts), and the sniffer's route targets against the clusters the config
 * defines. The plugins are found by the validator's walk (controller/envoy/wasm-configs.ts).
 */
import { routedClusters, type SnifferConfig } from "../sniffer/config.js";
import { checkConfiguration } from "./index.js";
import { wasmPluginConfigsInDocument } from "../envoy/wasm-configs.js";

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

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
  for (const plugin of wasmPluginConfigsInDocument(config)) {
    const at = plugin.configurationPath;
    const text = plugin.configuration ?? "";
    const found = checkConfiguration(plugin.rootId, text);
    for (const why of found) problems.push(`${at}: ${plugin.rootId}: invalid configuration: ${why}`);
    if (found.length > 0 || plugin.rootId !== "sniffer" || clusters.names === undefined) continue;
    if (/^[ \t\n\r]*$/.test(text)) continue;
    const sniffer = JSON.parse(text) as SnifferConfig;
    for (const cluster of routedClusters(sniffer)) {
      if (!clusters.names.has(cluster)) {
        problems.push(`${at}: sniffer routes to cluster ${JSON.stringify(cluster)}, which static_resources.clusters does not define` +
          ` (defined: ${[...clusters.names].sort().join(", ") || "none"})`);
      }
    }
  }
  return problems;
}
