/**
 * The sniffer as an Envoy network filter: the wasm plugin `sniffer` with its configuration
 * validated (config.ts) and passed as a google.protobuf.StringValue holding JSON with sorted keys.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import type { SnifferConfig, SnifferMode } from "./config.js";

/** Folder name under assembly/filters, root id and .wasm base name (workbench contract). */
export const SNIFFER_NAME = "sniffer";

export interface SnifferFilterProps {
  /** A configuration returned by snifferConfig() (validated, mode set). */
  readonly config: SnifferConfig;
  /** Path of sniffer.wasm as Envoy sees it. */
  readonly wasmPath: string;
  /**
   * What a failed VM does to traffic.
   * @default defaultSnifferFailurePolicy(config)
   */
  readonly failurePolicy?: WasmFailurePolicy;
}

/**
 * The failure policy each mode needs when the caller does not choose:
 * - observe: FAIL_OPEN. It only counts; a failed VM must not cost a connection.
 * - bypass: FAIL_OPEN, so a failed VM leaves the port as it was (tcp_proxy → the passthrough
 *   cluster). With `allowed_destinations` the sniffer enforces something (it closes connections to
 *   other destinations); skipping it would let those through, so then FAIL_RELOAD.
 * - route: FAIL_RELOAD. Skipped, the sniffer writes no `envoy.tcp_proxy.cluster`, and tcp_proxy
 *   sends every connection to its own `cluster` (Config::getRegularRouteFromEntries falls back to
 *   default_route_, envoy source/common/tcp_proxy/tcp_proxy.cc): Redis bytes to the Dubbo backend,
 *   `deny` routes no longer denied. A connection closed instead is retried by the client. RELOAD
 *   rather than CLOSED: one input that traps the VM would otherwise close every later connection
 *   on that worker until the configuration changes; with RELOAD Envoy starts a fresh VM for the
 *   first connection 1 to 1.5 s after the last load (PluginConfig::maybeReloadHandleIfNeeded,
 *   source/extensions/common/wasm/wasm.cc).
 */
export function defaultSnifferFailurePolicy(config: SnifferConfig): WasmFailurePolicy {
  const mode: SnifferMode = config.mode ?? "observe";
  if (mode === "route") return "FAIL_RELOAD";
  if (mode === "bypass" && (config.allowed_destinations?.length ?? 0) > 0) return "FAIL_RELOAD";
  return "FAIL_OPEN";
}

export function snifferFilter(props: SnifferFilterProps): NetworkFilter {
  return wasmNetworkFilter({
    configuration: props.config as Readonly<Record<string, unknown>>,
    failurePolicy: props.failurePolicy ?? defaultSnifferFailurePolicy(props.config),
    name: SNIFFER_NAME,
    wasmPath: props.wasmPath,
  });
}
