/**
 * What the emulator takes from a rendered Envoy bootstrap (controller/envoy/bootstrap.ts output):
 * the static clusters, and the typed_config of a listener's terminal filter, so data-plane tests
 * run exactly the configuration the controller wrote.
 */
import type { ClusterConfig } from "./types.js";

type Json = Record<string, unknown>;

function list(v: unknown): Json[] {
  return Array.isArray(v) ? (v as Json[]) : [];
}

/** STATIC / STRICT_DNS clusters with their endpoints' socket addresses. */
export function renderedClusters(bootstrap: Json): Map<string, ClusterConfig> {
  const out = new Map<string, ClusterConfig>();
  for (const c of list((bootstrap.static_resources as Json | undefined)?.clusters)) {
    const la = c.load_assignment as Json | undefined;
    const endpoints = list(la?.endpoints).flatMap((e) => list(e.lb_endpoints)).map((lb) => {
      const sa = ((lb.endpoint as Json).address as Json).socket_address as Json;
      return { host: String(sa.address), port: Number(sa.port_value) };
    });
    out.set(String(c.name), { endpoints });
  }
  return out;
}

/** The typed_config of the last filter of the first listener's first chain, which must be `filterName`. */
export function renderedTerminal(bootstrap: Json, filterName: string): Json {
  const listener = list((bootstrap.static_resources as Json | undefined)?.listeners)[0];
  const filters = list(list(listener?.filter_chains)[0]?.filters);
  const last = filters[filters.length - 1];
  if (last?.name !== filterName) throw new Error(`rendered bootstrap: the chain ends in ${String(last?.name)}, not ${filterName}`);
  return last.typed_config as Json;
}
