/**
 * Tag extraction for the Istio-style TCP metrics of tcp-stats (assembly/telemetry/prometheus.ts).
 * The filter writes each label into the stat name as `<label>=.=<value>;.;`, the form Istio's
 * bootstrap extracts for every `extraStatTags` key with the regex `(<label>=\.=(.*?);\.;)`
 * (istio/istio tools/packaging/common/envoy_bootstrap.json, `stats_config.stats_tags`): the
 * first group is cut out of the name, the second is the label value (envoy
 * source/common/stats/tag_extractor_impl.cc).
 *
 * Label set and order: istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc
 * (TCP reports the same peer labels as HTTP, without response_code / grpc_response_status).
 */
import type { StatsTag } from "../sniffer/stats.js";

/** Istio's TCP metric labels, in istio_stats.cc order (assembly/telemetry/prometheus.ts TCP_LABELS). */
export const ISTIO_TCP_LABELS = [
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
] as const;

/**
 * Standalone Envoy: one stats_tags entry per label. Anchored (the key starts the name or follows
 * `.` or `;`) so no label is taken for another whose name ends the same way, as the sniffer's
 * entries are (controller/sniffer/stats.ts).
 */
export function tcpStatsTags(labels: readonly string[] = ISTIO_TCP_LABELS): StatsTag[] {
  return labels.map((key) => ({ tagName: key, regex: `(?:^|[.;])(${key}=\\.=(.*?);\\.;)` }));
}

/**
 * Istio: the keys for `meshConfig.defaultConfig.extraStatTags` (or the pod annotation
 * `sidecar.istio.io/extraStatTags`), for which istiod writes `(<key>=\.=(.*?);\.;)`; and the
 * stats inclusion prefix the metrics need, because the bootstrap's `stats_matcher` keeps only
 * names starting `reporter=`, `component` or `istio` and a wasm stat's full name starts
 * `wasmcustom.` (`sidecar.istio.io/statsInclusionPrefixes`, `proxyStatsMatcher.inclusionPrefixes`).
 */
export function istioTcpStatsSettings(): { extraStatTags: string[]; statsInclusionPrefixes: string[] } {
  return { extraStatTags: [...ISTIO_TCP_LABELS], statsInclusionPrefixes: ["wasmcustom"] };
}
