/**
 * The protomesh filters the controller knows how to deploy. Each is built to
 * `build/<name>.wasm` and answers to root id `<name>` (docs/design/workbench-contract.md).
 */
import type { UpstreamConnectMode } from "./envoy/tcp-proxy.js";

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
}

export const FILTERS: Readonly<Record<string, FilterSpec>> = {
  "tcp-stats": {
    name: "tcp-stats",
    description: "per-connection byte and connection counters for raw TCP (assembly/filters/tcp-stats)",
    defaultConfiguration: {},
  },
};

export function filterSpec(name: string): FilterSpec {
  const spec = FILTERS[name];
  if (spec === undefined) {
    throw new Error(`unknown filter ${JSON.stringify(name)}; known filters: ${Object.keys(FILTERS).sort().join(", ")}`);
  }
  return spec;
}
