// Prometheus backend: Istio's TCP metrics with Istio's label set, encoded in the stat name the
// way Istio's bootstrap extracts tags. Pure code (names only; the filter defines the metrics).
//
// Encoding: `<label>=.=<value>;.;` per label, then the metric name, e.g.
// `reporter=.=destination;.;source_workload=.=productpage-v1;.;…;.;istio_tcp_sent_bytes_total`.
// Istio's bootstrap turns every key listed in `extraStatTags` into the stats_tags entry
// `(<key>=\.=(.*?);\.;)` (istio/istio tools/packaging/common/envoy_bootstrap.json): the first
// group is cut from the name and the second is the label value (Envoy
// source/common/stats/tag_extractor_impl.cc). What remains, `wasmcustom.istio_tcp_…`, prints as
// `istio_tcp_…` (Envoy source/server/admin/prometheus_stats_formatter.cc metricName).
//
// Label set and order: ./tcp-labels.ts (shared with the controller). Values: tcpLabelValues.
import { AttributeBag, Reporter } from "./attributes";
import { LABEL_DESTINATION_SERVICE, LABEL_DESTINATION_SERVICE_NAME, UNKNOWN, httpConnectionLabels, safeValue } from "./request";
import { TCP_LABELS } from "./tcp-labels";

export { TCP_LABELS, UNKNOWN };
/** Label value used for every label of the overflow series. */
export const OVERFLOW = "overflow";

export enum TcpMetric {
  ConnectionsOpened = 0,
  ConnectionsClosed = 1,
  SentBytes = 2,
  ReceivedBytes = 3,
}

/** Istio's metric names without the `istio_` prefix; the prefix is configurable. */
export function tcpMetricName(m: TcpMetric): string {
  switch (m) {
    case TcpMetric.ConnectionsOpened: return "tcp_connections_opened_total";
    case TcpMetric.ConnectionsClosed: return "tcp_connections_closed_total";
    case TcpMetric.SentBytes: return "tcp_sent_bytes_total";
    default: return "tcp_received_bytes_total";
  }
}

/**
 * A value made safe for the name encoding, `unknown` when empty (the overflow and OTLP paths; the
 * Istio labels themselves follow tcpLabelValues): the tag regex `(.*?);\.;` stops at the first
 * `;.;` and `.` never matches a newline (ECMAScript grammar), so `;` and control characters
 * become `_`; an empty value is `unknown`. A value longer than 128 bytes is cut (Prometheus
 * labels this long are a cardinality bug, and Envoy's symbol table keeps every name forever).
 */
export function labelValue(v: string): string {
  if (v.length == 0) return UNKNOWN;
  const n = v.length < 128 ? v.length : 128;
  let out = "";
  let clean = true;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c == 0x3b || c < 0x20 || c == 0x7f) { clean = false; break; }
  }
  if (clean) return n == v.length ? v : v.substring(0, n);
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    out += c == 0x3b || c < 0x20 || c == 0x7f ? "_" : String.fromCharCode(c);
  }
  return out;
}

/**
 * The TCP label values for `bag`, in TCP_LABELS order, as istio.stats prints them for a TCP
 * connection (istio_stats.cc populatePeerInfo; the TCP path reports through the same function as
 * HTTP): the local side's node values as they are ("" included), the peer's `unknown` when
 * missing (its canonical revision `latest`), the peer's namespace from its principal first
 * (request.ts httpConnectionLabels, shared with the HTTP adapter). `destination_service` and
 * `_name` come from the upstream cluster (tcp-attributes.ts applyClusterService); without a
 * service there, inbound falls back to the local canonical service, outbound prints `unknown`.
 */
export function tcpLabelValues(bag: AttributeBag): string[] {
  const out = httpConnectionLabels(bag);
  const fallback = bag.reporter == Reporter.Destination ? safeValue(bag.destination.canonicalService) : UNKNOWN;
  const svc = bag.destinationService;
  const svcName = bag.destinationServiceName;
  out[LABEL_DESTINATION_SERVICE] = svc.length > 0 ? safeValue(svc) : fallback;
  out[LABEL_DESTINATION_SERVICE_NAME] = svcName.length > 0 ? safeValue(svcName) : fallback;
  out.push(bag.requestProtocol.length > 0 ? safeValue(bag.requestProtocol) : "tcp");
  out.push("-");
  out.push(bag.securityPolicy());
  return out;
}

/** `k=.=v;.;` for every label, the key of one series (without the metric name). */
export function encodeTags(values: string[]): string {
  let s = "";
  for (let i = 0; i < TCP_LABELS.length; i++) s += TCP_LABELS[i] + "=.=" + values[i] + ";.;";
  return s;
}

/** The series key of the overflow series: every label `overflow`. */
export function overflowTags(): string {
  let s = "";
  for (let i = 0; i < TCP_LABELS.length; i++) s += TCP_LABELS[i] + "=.=" + OVERFLOW + ";.;";
  return s;
}
