// Istio's TCP metric labels: one copy, read by the filter (./prometheus.ts, AssemblyScript) and
// the controller (controller/telemetry/stats-tags.ts, TypeScript). Written in the subset both
// languages compile: a plain constant, no AssemblyScript types.
//
// Label set and order: istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc
// (the tags_ vector: reporter, source_*, destination_*, request_protocol, response_flags,
// connection_security_policy for TCP; the same peer labels as HTTP, without response_code /
// grpc_response_status).

/** Istio's TCP label keys, in istio_stats.cc order. */
export const TCP_LABELS: string[] = [
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
  "response_flags",
  "connection_security_policy",
];
