/**
 * The `envoy.filters.network.wasm` network filter running one proxy-wasm plugin
 * (envoy.extensions.filters.network.wasm.v3.Wasm → envoy.extensions.wasm.v3.PluginConfig).
 */
import { sortKeys } from "../yaml.js";
import type { NetworkFilter } from "./network-filter.js";

export const WASM_NETWORK_FILTER_NAME = "envoy.filters.network.wasm";
export const WASM_NETWORK_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";
const STRING_VALUE_TYPE_URL = "type.googleapis.com/google.protobuf.StringValue";

/**
 * What Envoy does with a plugin whose VM has failed (a trap, an AssemblyScript abort):
 * - FAIL_OPEN: the filter is skipped; traffic flows as if it were not configured.
 * - FAIL_CLOSED: every connection through the filter is closed, for good (until the config changes).
 * - FAIL_RELOAD: closed like FAIL_CLOSED, but the next connection at least one backoff interval
 *   (1 s to 1.5 s) after the last load starts a fresh VM.
 */
export const WASM_FAILURE_POLICIES = ["FAIL_OPEN", "FAIL_CLOSED", "FAIL_RELOAD"] as const;
export type WasmFailurePolicy = (typeof WASM_FAILURE_POLICIES)[number];

/**
 * The PluginConfig fields for a failure policy, as Envoy 1.37 reads them. The API is the same in
 * 1.37, 1.38 and 1.39 (api/envoy/extensions/wasm/v3/wasm.proto: fail_open = 5 deprecated,
 * failure_policy = 7, reload_config = 8; FailurePolicy UNSPECIFIED 0, FAIL_RELOAD 1, FAIL_CLOSED 2,
 * FAIL_OPEN 3 — checked in go-control-plane's envoy/v1.37.0, v1.38.0 and v1.39.0 mirrors).
 *
 * Two places decide, and they read different fields:
 * - a connection created after the VM failed: Envoy's PluginConfig::createContext
 *   (source/extensions/common/wasm/wasm.cc) skips the filter for FAIL_OPEN, else gives it an empty
 *   context that fails the stream. Its policy comes from PluginConfig::PluginConfig: `fail_open:
 *   true` → FAIL_OPEN, else `failure_policy` (UNSPECIFIED → FAIL_CLOSED); both set → "only one of
 *   fail_open or failure_policy can be set" (EnvoyException: the config is rejected).
 * - a connection that already runs on the VM when it fails, the failing one included: every
 *   proxy-wasm-cpp-host callback starts and ends with CHECK_FAIL_NET (src/context.cc), which reads
 *   PluginBase::fail_open_; Envoy's Plugin fills it from `config.fail_open()` only
 *   (source/extensions/common/wasm/plugin.h). With `failure_policy: FAIL_OPEN` those connections are
 *   closed (failStream) even though later ones skip the filter.
 * So FAIL_OPEN renders the deprecated `fail_open: true`, the one field that reaches both (Envoy
 * logs a deprecation warning; deprecated_at_minor_version "3.0" without disallowed_by_default only
 * warns, source/common/protobuf/utility.cc deprecatedFieldHelper). FAIL_CLOSED and FAIL_RELOAD
 * render `failure_policy` (Envoy >= 1.33, envoy#36456); reload_config is left out: Envoy then waits
 * a JitteredLowerBoundBackOffStrategy of base 1000 ms between reloads.
 */
export function wasmFailureFields(policy: WasmFailurePolicy): Record<string, unknown> {
  switch (policy) {
    case "FAIL_OPEN":
      return { fail_open: true };
    case "FAIL_CLOSED":
    case "FAIL_RELOAD":
      return { failure_policy: policy };
    default:
      throw new Error(`wasm failure policy ${JSON.stringify(policy)} must be one of ${WASM_FAILURE_POLICIES.join(", ")}`);
  }
}

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
   * What happens to traffic once the plugin's VM has failed (see WasmFailurePolicy).
   * @default "FAIL_CLOSED" (Envoy's own default)
   */
  readonly failurePolicy?: WasmFailurePolicy;
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
        ...wasmFailureFields(props.failurePolicy ?? "FAIL_CLOSED"),
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
