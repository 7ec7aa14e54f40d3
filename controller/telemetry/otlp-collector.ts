/**
 * The OpenTelemetry collector's cluster for a filter configuration with an `otlp` section
 * (tcp-stats, assembly/telemetry/otlp): the filter calls `LogsService/Export` and
 * `MetricsService/Export` with proxy_grpc_call over Envoy's own gRPC client (GrpcService
 * envoy_grpc), which needs a cluster of that name that speaks HTTP/2.
 */
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
 * The collector cluster for `configuration`, or undefined when it exports nothing. The cluster
 * is STATIC for an IP and STRICT_DNS for a name (bootstrap.ts), HTTP/2, with a 1 s connect
 * timeout: an unreachable collector fails the export, which the filter counts and retries at
 * its next flush.
 */
export function otlpCollectorCluster(
  configuration: Readonly<Record<string, unknown>> | undefined,
  collector: SocketAddressProps = DEFAULT_OTLP_COLLECTOR,
): StaticClusterProps | undefined {
  const name = otlpClusterName(configuration);
  if (name === undefined) return undefined;
  return { name, endpoints: [collector], http2: true };
}
