/**
 * The OpenTelemetry collector's cluster for a filter configuration that exports over OTLP
 * (assembly/telemetry/otlp): tcp-stats' `otlp` section, http-telemetry's `otlp` handlers. The
 * filter calls `LogsService/Export` and `MetricsService/Export` with proxy_grpc_call over Envoy's
 * own gRPC client (GrpcService envoy_grpc), which needs a cluster of that name that speaks HTTP/2.
 */
import { httpTelemetryOtlpClusters } from "../config/http-telemetry.js";
import type { SocketAddressProps, StaticClusterProps } from "../envoy/bootstrap.js";

/** Where the collector listens when the caller does not say: OTLP/gRPC's default port 4317. */
export const DEFAULT_OTLP_COLLECTOR: SocketAddressProps = { address: "otel-collector", port: 4317 };

/** The `otlp.cluster` a plugin configuration names, if any. */
export function otlpClusterName(configuration: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const otlp = configuration?.otlp;
  if (otlp === null || typeof otlp !== "object" || Array.isArray(otlp)) return undefined;
  const cluster = (otlp as Record<string, unknown>).cluster;
  return typeof cluster === "string" ? cluster : undefined;
}

/**
 * Every collector cluster a configuration names: tcp-stats' `otlp.cluster`, and the `cluster` of
 * each otlp handler, in http-telemetry's `handlers` or an RPC filter's `telemetry.handlers`.
 */
export function otlpClusterNames(configuration: Readonly<Record<string, unknown>> | undefined): string[] {
  const one = otlpClusterName(configuration);
  const telemetry = configuration?.["telemetry"];
  const section = telemetry !== null && typeof telemetry === "object" && !Array.isArray(telemetry) ? (telemetry as Record<string, unknown>) : undefined;
  return [...new Set([...(one === undefined ? [] : [one]), ...httpTelemetryOtlpClusters(configuration), ...httpTelemetryOtlpClusters(section)])].sort();
}

/**
 * The collector clusters for `configuration`, one per name otlpClusterNames finds (none when it
 * exports nothing), each STATIC for an IP and STRICT_DNS for a name (bootstrap.ts), HTTP/2, with
 * a 1 s connect timeout: an unreachable collector fails the export, which the filter counts and
 * retries at its next flush.
 */
export function otlpCollectorClusters(
  configuration: Readonly<Record<string, unknown>> | undefined,
  collector: SocketAddressProps = DEFAULT_OTLP_COLLECTOR,
): StaticClusterProps[] {
  return otlpClusterNames(configuration).map((name) => ({ name, endpoints: [collector], http2: true }));
}

/**
 * What an Istio resource's header tells the operator about the collector clusters: a WasmPlugin
 * cannot create a cluster, so `cluster` must name one istiod already builds for the sidecar, with
 * HTTP/2 (istio/istio pilot/pkg/networking/core/cluster_builder.go setUpstreamProtocol →
 * setH2Options for a port of gRPC protocol). "" when the configuration exports nothing.
 */
export function otlpIstioNotes(configuration: Readonly<Record<string, unknown>> | undefined): string {
  const names = otlpClusterNames(configuration);
  if (names.length === 0) return "";
  return [
    `OTLP export goes to the cluster${names.length > 1 ? "s" : ""} ${names.map((n) => JSON.stringify(n)).join(", ")}, which istiod must build for this`,
    "sidecar: name the collector Service's outbound cluster (outbound|4317||otel-collector.<ns>.svc.cluster.local),",
    "give its port a gRPC protocol (port name grpc-… or appProtocol: grpc) so the cluster speaks HTTP/2, add a",
    "ServiceEntry when the collector runs outside the mesh, and keep it in the Sidecar resource's egress hosts.",
  ].join("\n");
}
