/**
 * The sniffer as bench and fuzz load it: its module path, the modes they drive, and one
 * configuration per mode (the sniffer contract's JSON).
 */
import path from "node:path";
import { BUILD } from "./drive.js";

export const SNIFFER_WASM = path.join(BUILD, "sniffer.wasm");

export type SnifferMode = "route" | "observe";
export const SNIFFER_MODES: readonly SnifferMode[] = ["route", "observe"];

const PROTOCOLS = ["http/1.1", "h2c", "tls", "dubbo", "thrift", "redis", "postgres", "mysql", "kafka", "mqtt", "amqp"];

/**
 * Configurations per the sniffer contract (JSON). Route mode routes every protocol to a cluster
 * of its own, so each decision walks the route table as it would in a mesh; the filter state
 * write (set_envoy_filter_state) is part of the measured cost.
 */
export function snifferConfig(mode: SnifferMode | "bypass"): string {
  if (mode !== "route") return JSON.stringify({ mode });
  const routes: Record<string, string> = {};
  for (const p of PROTOCOLS) routes[p] = `${p.replace(/[^a-z0-9]/g, "")}-svc`;
  return JSON.stringify({ mode, routes, default_route: "passthrough" });
}
