/**
 * Tag extraction for the Istio-style TCP metrics of tcp-stats (assembly/telemetry/prometheus.ts).
 * The filter writes each label into the stat name as `<label>=.=<value>;.;`, the form Istio's
 * bootstrap extracts for every `extraStatTags` key with the regex `(<label>=\.=(.*?);\.;)`
 * (istio/istio tools/packaging/common/envoy_bootstrap.json, `stats_config.stats_tags`): the
 * first group is cut out of the name, the second is the label value (envoy
 * source/common/stats/tag_extractor_impl.cc).
 *
 * Label set and order: assembly/telemetry/tcp-labels.ts, the one list the filter and the controller
 * both compile (istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc).
 */
import * as labels from "../../assembly/telemetry/tcp-labels.js";
import * as httpLabels from "../../assembly/telemetry/http-labels.js";
import type { StatsTag } from "../sniffer/stats.js";
import { httpTelemetryDimensions } from "../config/http-telemetry.js";

/** Istio's TCP metric labels, in istio_stats.cc order: the filter's own list. */
export const ISTIO_TCP_LABELS: readonly string[] = labels.TCP_LABELS;

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

/**
 * Istio's HTTP metric labels (istio_requests_total and the three histograms), in istio_stats.cc
 * order: the filter's own list (assembly/telemetry/http-labels.ts).
 */
export const ISTIO_HTTP_LABELS: readonly string[] = httpLabels.HTTP_LABELS;

/** Istio's HTTP metric names without `istio_` (counter, then three histograms). */
export const ISTIO_HTTP_METRICS: readonly string[] = httpLabels.HTTP_METRICS;

/**
 * Standalone Envoy: the stats_tags the http-telemetry filter's prometheus handlers need, Istio's
 * HTTP labels then each handler's extra dimensions (`dimensions` keys), anchored as tcpStatsTags.
 */
export function httpStatsTags(dimensions: readonly string[] = []): StatsTag[] {
  const keys = [...ISTIO_HTTP_LABELS, ...dimensions.filter((d) => !ISTIO_HTTP_LABELS.includes(d))];
  return tcpStatsTags([...new Set(keys)]);
}

/**
 * Istio: the `extraStatTags` keys and the stats inclusion prefix for the http-telemetry filter's
 * prometheus handlers (see istioTcpStatsSettings for why `wasmcustom`).
 */
export function istioHttpStatsSettings(dimensions: readonly string[] = []): { extraStatTags: string[]; statsInclusionPrefixes: string[] } {
  return { extraStatTags: httpStatsTags(dimensions).map((t) => t.tagName), statsInclusionPrefixes: ["wasmcustom"] };
}

/**
 * Standalone Envoy: the stats_tags for the dubbo and thrift filters' `telemetry` section (absent:
 * one prometheus handler): their calls carry the HTTP label set (request_protocol dubbo / thrift),
 * then the handlers' dimensions.
 */
export function rpcStatsTags(telemetry: Readonly<Record<string, unknown>> = {}): StatsTag[] {
  return httpStatsTags(httpTelemetryDimensions(telemetry));
}
