/**
 * An Istio EnvoyFilter (networking.istio.io/v1alpha3) that inserts one protomesh wasm network
 * filter before `envoy.filters.network.tcp_proxy` on a sidecar's inbound traffic for one port.
 *
 * The patch value is an Envoy `envoy.config.listener.v3.Filter`; it is checked against Envoy's
 * protos (controller/envoy/validate.ts) and the whole resource against Istio's CRD schema
 * (@kubernetes-models/istio), so neither istiod nor Envoy should be the first to reject it.
 */
import { EnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter";
import { filterSpec } from "../filters.js";
import { TCP_PROXY_FILTER_NAME } from "../envoy/tcp-proxy.js";
import { assertValidEnvoy } from "../envoy/validate.js";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../envoy/wasm-network-filter.js";
import { sortKeys, toYaml } from "../yaml.js";
import { guardProxyVersion } from "./proxy-version.js";

export interface WasmEnvoyFilterProps {
  /** A name from controller/filters.ts (e.g. "tcp-stats"). */
  readonly filter: string;
  /**
   * Port whose inbound traffic the filter sees (match.listener.portNumber). Inbound traffic
   * goes through the virtual inbound listener, where istiod matches portNumber against each
   * filter chain's `filter_chain_match.destination_port`, i.e. the port the workload listens on
   * (istio/istio pilot/pkg/networking/core/envoyfilter/listener_patch.go, filterChainMatch).
   */
  readonly port: number;
  /**
   * Resource name (DNS-1123).
   * @default `protomesh-<filter>-<port>`
   */
  readonly name?: string;
  /**
   * Namespace of the resource; the root namespace (istio-system) applies it mesh-wide.
   * @default undefined (the namespace kubectl applies it to)
   */
  readonly namespace?: string;
  /**
   * Pod labels selecting the workloads.
   * @default undefined (every workload in the namespace)
   */
  readonly workloadLabels?: Readonly<Record<string, string>>;
  /**
   * Path of the .wasm file inside the istio-proxy container (mount it, e.g. with
   * sidecar.istio.io/userVolumeMount).
   * @default `/var/local/lib/wasm/<filter>.wasm`
   */
  readonly wasmPath?: string;
  /** @default the filter's defaultConfiguration */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /** @default the filter's (FilterSpec.failurePolicy) */
  readonly failurePolicy?: WasmFailurePolicy;
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The EnvoyFilter as a plain object, validated against Istio's schema and Envoy's protos. */
export function wasmEnvoyFilter(props: WasmEnvoyFilterProps): Record<string, unknown> {
  const spec = filterSpec(props.filter);
  if (!Number.isInteger(props.port) || props.port < 1 || props.port > 65535) {
    throw new Error(`wasmEnvoyFilter: port ${props.port} must be a service port in [1, 65535]`);
  }
  const name = props.name ?? `protomesh-${spec.name}-${props.port}`;
  if (name.length > 253 || !DNS_1123.test(name)) {
    throw new Error(`wasmEnvoyFilter: name ${JSON.stringify(name)} must be a DNS-1123 label (lower-case letters, digits, '-')`);
  }
  const value = wasmNetworkFilter({
    configuration: props.configuration ?? spec.defaultConfiguration,
    failurePolicy: props.failurePolicy ?? spec.failurePolicy,
    name: spec.name,
    wasmPath: props.wasmPath ?? `/var/local/lib/wasm/${spec.name}.wasm`,
  });
  assertValidEnvoy(value, "envoy.config.listener.v3.Filter");
  const resource = sortKeys({
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name, namespace: props.namespace },
    spec: {
      configPatches: guardProxyVersion([{
        applyTo: "NETWORK_FILTER",
        match: {
          context: "SIDECAR_INBOUND",
          listener: {
            filterChain: { filter: { name: TCP_PROXY_FILTER_NAME } },
            portNumber: props.port,
          },
        },
        patch: { operation: "INSERT_BEFORE", value },
      }]),
      workloadSelector: props.workloadLabels === undefined ? undefined : { labels: { ...props.workloadLabels } },
    },
  });
  validateEnvoyFilter(resource);
  return resource;
}

/** Throws with the schema's message when `resource` is not a valid EnvoyFilter. */
export function validateEnvoyFilter(resource: unknown): void {
  try {
    // The constructor copies the data; validate() runs the CRD's JSON schema.
    new EnvoyFilter(resource as ConstructorParameters<typeof EnvoyFilter>[0]).validate();
  } catch (err) {
    throw new Error(`invalid EnvoyFilter: ${(err as Error).message}`);
  }
}

export function wasmEnvoyFilterYaml(props: WasmEnvoyFilterProps, header?: string): string {
  return toYaml(wasmEnvoyFilter(props), header);
}
