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
  /**
   * tcp_proxy `max_early_data_bytes` the filter needs: a filter that holds the connection from
   * on_new_connection needs reads enabled before tcp_proxy connects (controller/sniffer/pairing.ts).
   * @default undefined (only set for a connect mode other than IMMEDIATE)
   */
  readonly maxEarlyDataBytes?: number;
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
  thrift: {
    name: "thrift",
    description: "Thrift call routing per connection, deny/rate limit/abort and request telemetry (assembly/filters/thrift)",
    defaultConfiguration: {},
    // Holds each connection until its first call decides the cluster (controller/rules/per-connection.ts).
    maxEarlyDataBytes: 16_384,
    // Skipped, the filter would let refused calls through: a failed VM is reloaded, as the sniffer's route mode.
    failurePolicy: "FAIL_RELOAD",
  },
};

export function filterSpec(name: string): FilterSpec {
  const spec = FILTERS[name];
  if (spec === undefined) {
    throw new Error(`unknown filter ${JSON.stringify(name)}; known filters: ${Object.keys(FILTERS).sort().join(", ")}`);
  }
  return spec;
}
