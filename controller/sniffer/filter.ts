/**
 * The sniffer as an Envoy network filter: the wasm plugin `sniffer` with its configuration
 * validated (config.ts) and passed as a google.protobuf.StringValue holding JSON with sorted keys.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import { wasmNetworkFilter } from "../envoy/wasm-network-filter.js";
import type { SnifferConfig } from "./config.js";

/** Folder name under assembly/filters, root id and .wasm base name (workbench contract). */
export const SNIFFER_NAME = "sniffer";

export interface SnifferFilterProps {
  /** A configuration returned by snifferConfig() (validated, mode set). */
  readonly config: SnifferConfig;
  /** Path of sniffer.wasm as Envoy sees it. */
  readonly wasmPath: string;
  /**
   * When the VM has failed: true = skip the sniffer (traffic flows unclassified, to tcp_proxy's
   * own cluster), false = close connections.
   * @default false
   */
  readonly failOpen?: boolean;
}

export function snifferFilter(props: SnifferFilterProps): NetworkFilter {
  return wasmNetworkFilter({
    configuration: props.config as Readonly<Record<string, unknown>>,
    failOpen: props.failOpen ?? false,
    name: SNIFFER_NAME,
    wasmPath: props.wasmPath,
  });
}
