// Istio's HTTP metric names and labels: one copy, read by the http-telemetry filter
// (AssemblyScript) and the controller (controller/telemetry/stats-tags.ts, TypeScript). Written in
// the subset both languages compile: plain constants, no AssemblyScript types.
//
// Names and label order: istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc.
// The Context's metric names (`istio_requests_total`, `istio_request_duration_milliseconds`,
// `istio_request_bytes`, `istio_response_bytes`); the filter's `tags_` vector for HTTP: `reporter`
// (constructor), the peer labels (populatePeerInfo), then `request_protocol`, `response_code`,
// `grpc_response_status` (log), then `response_flags`, `connection_security_policy`
// (populateFlagsAndConnectionSecurity).

/** Istio's HTTP metric names without the `istio_` prefix, in this order: counter, then three histograms. */
export const HTTP_METRICS: string[] = [
  "requests_total",
  "request_duration_milliseconds",
  "request_bytes",
  "response_bytes",
];

/** Istio's HTTP labels, in istio_stats.cc order. */
export const HTTP_LABELS: string[] = [
  "reporter",
  "source_workload",
  "source_canonical_service",
  "source_canonical_revision",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_cluster",
  "destination_workload",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_service",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_service_name",
  "destination_service_namespace",
  "destination_cluster",
  "request_protocol",
  "response_code",
  "grpc_response_status",
  "response_flags",
  "connection_security_policy",
];

/**
 * Attribute names the rules match on and the access log writes (Mixer's vocabulary), in the
 * order of the engine's attribute indexes (assembly/telemetry/request.ts Attr). One list for every
 * protocol: an attribute a protocol does not have is "" (0 for numbers). RPC calls (Dubbo,
 * Thrift) use Mixer's `api.*` names (`api.service`, `api.operation`, `api.version`) plus
 * `api.group` (Dubbo's group); `xds.cluster_name` is Envoy's attribute for the routed cluster.
 * New attributes go at the end (indexes are stable).
 */
export const HTTP_ATTRIBUTES: string[] = [
  "request.method",
  "request.path",
  "request.host",
  "request.id",
  "request.protocol",
  "request.useragent",
  "request.total_size",
  "response.code",
  "response.grpc_status",
  "response.duration",
  "response.total_size",
  "reporter",
  "source.workload",
  "source.namespace",
  "source.principal",
  "source.app",
  "source.version",
  "source.address",
  "destination.workload",
  "destination.namespace",
  "destination.principal",
  "destination.app",
  "destination.version",
  "destination.service",
  "connection.id",
  "connection.mtls",
  "api.service",
  "api.operation",
  "api.version",
  "api.group",
  "xds.cluster_name",
  "response.flags",
];
