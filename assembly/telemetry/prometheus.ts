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
// Label set and order: ./tcp-labels.ts (shared with the controller). Empty values print `unknown`,
// as istio.stats does.
import { AttributeBag, Workload, reporterName } from "./attributes";
import { TCP_LABELS } from "./tcp-labels";

export { TCP_LABELS };

export const UNKNOWN = "unknown";
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
 * A label value made safe for the name encoding: the tag regex `(.*?);\.;` stops at the first
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

function workloadValues(w: Workload, out: string[], destination: bool, bag: AttributeBag): void {
  if (!destination) {
    out.push(labelValue(w.workload));
    out.push(labelValue(w.canonicalService));
    out.push(labelValue(w.canonicalRevision));
    out.push(labelValue(w.namespace));
    out.push(labelValue(w.principal));
    out.push(labelValue(w.app));
    out.push(labelValue(w.version));
    out.push(labelValue(w.cluster));
    return;
  }
  out.push(labelValue(w.workload));
  out.push(labelValue(w.namespace));
  out.push(labelValue(w.principal));
  out.push(labelValue(w.app));
  out.push(labelValue(w.version));
  // istio_stats.cc: destination_service / _name fall back to the canonical name when the
  // service host is unknown; destination_service_namespace to the workload's namespace.
  const svc = bag.destinationService.length > 0 ? bag.destinationService : w.canonicalService;
  const svcName = bag.destinationServiceName.length > 0 ? bag.destinationServiceName : w.canonicalService;
  const svcNs = bag.destinationServiceNamespace.length > 0 ? bag.destinationServiceNamespace : w.namespace;
  out.push(labelValue(svc));
  out.push(labelValue(w.canonicalService));
  out.push(labelValue(w.canonicalRevision));
  out.push(labelValue(svcName));
  out.push(labelValue(svcNs));
  out.push(labelValue(w.cluster));
}

/** The TCP label values for `bag`, in TCP_LABELS order. */
export function tcpLabelValues(bag: AttributeBag): string[] {
  const out = new Array<string>();
  out.push(reporterName(bag.reporter));
  workloadValues(bag.source, out, false, bag);
  workloadValues(bag.destination, out, true, bag);
  out.push(labelValue(bag.requestProtocol));
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
