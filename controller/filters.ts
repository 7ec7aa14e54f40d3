/**
 * The protomesh filters the controller knows how to deploy. Each is built to
 * `build/<name>.wasm` and answers to root id `<name>` (docs/design/workbench-contract.md).
 */
import type { UpstreamConnectMode } from "./envoy/tcp-proxy.js";
import type { WasmFailurePolicy } from "./envoy/wasm-network-filter.js";

export interface FilterSpec {
  /** Folder name under assembly/filters; also the root id and the .wasm file's base name. */
  readonly name: string;
  readonly description: string;
  /** Plugin configuration used when the caller gives none. */
  readonly defaultConfiguration: Readonly<Record<string, unknown>>;
  /**
   * tcp_proxy connect mode the filter needs (a filter that must see data before routing needs
   * ON_DOWNSTREAM_DATA).
   * @default undefined (IMMEDIATE)
   */
  readonly upstreamConnectMode?: UpstreamConnectMode;
  /** What a failed VM does to traffic when the caller does not say (controller/envoy/wasm-network-filter.ts). */
  readonly failurePolicy: WasmFailurePolicy;
}

export const FILTERS: Readonly<Record<string, FilterSpec>> = {
  "tcp-stats": {
    name: "tcp-stats",
    description: "per-connection byte and connection counters for raw TCP (assembly/filters/tcp-stats)",
    defaultConfiguration: {},
    // Counting must never cost a connection: a failed VM only stops the counters.
    failurePolicy: "FAIL_OPEN",
  },
};

export function filterSpec(name: string): FilterSpec {
  const spec = FILTERS[name];
  if (spec === undefined) {
    throw new Error(`unknown filter ${JSON.stringify(name)}; known filters: ${Object.keys(FILTERS).sort().join(", ")}`);
  }
  return spec;
}
