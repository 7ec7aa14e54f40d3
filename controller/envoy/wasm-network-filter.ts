/**
 * The `envoy.filters.network.wasm` network filter running one proxy-wasm plugin
 * (envoy.extensions.filters.network.wasm.v3.Wasm → envoy.extensions.wasm.v3.PluginConfig).
 */
import { sortKeys } from "../yaml.js";
import type { NetworkFilter } from "./network-filter.js";

export const WASM_NETWORK_FILTER_NAME = "envoy.filters.network.wasm";
export const WASM_NETWORK_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";
const STRING_VALUE_TYPE_URL = "type.googleapis.com/google.protobuf.StringValue";

export interface WasmNetworkFilterProps {
  /** Plugin name (PluginConfig.name; the `plugin_name` property). */
  readonly name: string;
  /** Path of the .wasm file as Envoy sees it (vm_config.code.local.filename). */
  readonly wasmPath: string;
  /**
   * Root id the module's `proxy_on_context_create` is asked for (our modules: their folder name).
   * @default name
   */
  readonly rootId?: string;
  /**
   * VM id; plugins with the same vm id and code share a VM.
   * @default name
   */
  readonly vmId?: string;
  /**
   * Plugin configuration, handed to `on_configure` as the JSON text of this object (keys sorted),
   * wrapped in google.protobuf.StringValue so the plugin receives the bare string.
   * @default {}
   */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /**
   * When the VM has failed: true = skip the filter, false = close connections.
   * @default false
   */
  readonly failOpen?: boolean;
  /**
   * Wasm runtime extension name.
   * @default "envoy.wasm.runtime.v8"
   */
  readonly runtime?: string;
}

export function wasmNetworkFilter(props: WasmNetworkFilterProps): NetworkFilter {
  if (!/^[A-Za-z0-9_.-]+$/.test(props.name)) {
    throw new Error(`wasmNetworkFilter: name ${JSON.stringify(props.name)} must match [A-Za-z0-9_.-]+`);
  }
  if (props.wasmPath === "") throw new Error(`wasmNetworkFilter(${props.name}): wasmPath must be the .wasm file path`);
  return {
    name: WASM_NETWORK_FILTER_NAME,
    typed_config: {
      "@type": WASM_NETWORK_TYPE_URL,
      config: {
        configuration: {
          "@type": STRING_VALUE_TYPE_URL,
          value: JSON.stringify(sortKeys(props.configuration ?? {})),
        },
        fail_open: props.failOpen ?? false,
        name: props.name,
        root_id: props.rootId ?? props.name,
        vm_config: {
          code: { local: { filename: props.wasmPath } },
          runtime: props.runtime ?? "envoy.wasm.runtime.v8",
          vm_id: props.vmId ?? props.name,
        },
      },
    },
  };
}
