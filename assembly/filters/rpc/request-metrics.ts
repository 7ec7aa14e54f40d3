// Istio's request metrics for RPC calls (names and labels of istio/proxy's stats plugin:
// istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes,
// istio_response_bytes), with request_protocol and the response_code strings given by the
// protocol, plus the filter's own protomesh_<stat_prefix>_* counters.
//
// Series are defined once per destination label (the rules' clusters, then "unknown") and, for
// istio_requests_total, per outcome: an outcome is a (response_code, response_flags) pair the
// protocol lists, e.g. Thrift's ("exception", "RL") for a rate-limited call.
import { MetricType, WasmResult, defineMetric, incrementMetric, recordMetric } from "../../runtime";
import { warnFailed } from "./warn";

/** A metric id, or -1 when defining it failed (then updates are skipped). */
export const NO_METRIC: i64 = -1;

function tagged(keys: string[], values: string[], name: string): string {
  let s = "";
  for (let i = 0; i < keys.length; i++) s += keys[i] + "=.=" + values[i] + ";.;";
  return s + name;
}

/** A stat prefix ('.' between segments) as one Prometheus-safe word. */
export function underscored(s: string): string {
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = <u16>(c == 46 ? 95 : c);
  }
  return String.UTF16.decode(out.buffer);
}

export function defineOrWarn(t: MetricType, name: string): i64 {
  const r = defineMetric(t, name);
  if (r.status != WasmResult.Ok) {
    warnFailed("define_metric " + name, r.status);
    return NO_METRIC;
  }
  return <i64>r.value;
}

export function count(id: i64, n: i64 = 1): void {
  if (id >= 0 && n != 0) incrementMetric(<u32>id, n);
}

export function record(id: i64, v: u64): void {
  if (id >= 0) recordMetric(<u32>id, v);
}

export class RequestMetrics {
  /** istio_requests_total per destination × outcome: index dest * outcomes + outcome. */
  requests: i64[] = [];
  /** Histograms per destination. */
  duration: i64[] = [];
  requestBytes: i64[] = [];
  responseBytes: i64[] = [];
  outcomes: i32 = 0;
  /** protomesh_<prefix>_route_mismatch_total / decode_errors_total / decode_timeouts_total. */
  routeMismatch: i64 = NO_METRIC;
  decodeErrors: i64 = NO_METRIC;
  timeouts: i64 = NO_METRIC;
  /** "protomesh_<prefix>_", for a protocol's own counters (counter()). */
  own: string = "";

  /**
   * Defines every series. `codes[o]` / `flags[o]` are outcome o's response_code and
   * response_flags labels ("-" for none, as Istio writes it).
   */
  constructor(protocol: string, statPrefix: string, clusters: string[], codes: StaticArray<string>, flags: StaticArray<string>) {
    const keys = ["request_protocol", "destination_cluster", "response_code", "response_flags"];
    const two = ["request_protocol", "destination_cluster"];
    this.outcomes = codes.length;
    for (let c = 0; c < clusters.length; c++) {
      for (let o = 0; o < codes.length; o++) {
        this.requests.push(defineOrWarn(MetricType.Counter, tagged(keys, [protocol, clusters[c], codes[o], flags[o]], "istio_requests_total")));
      }
      const v = [protocol, clusters[c]];
      this.duration.push(defineOrWarn(MetricType.Histogram, tagged(two, v, "istio_request_duration_milliseconds")));
      this.requestBytes.push(defineOrWarn(MetricType.Histogram, tagged(two, v, "istio_request_bytes")));
      this.responseBytes.push(defineOrWarn(MetricType.Histogram, tagged(two, v, "istio_response_bytes")));
    }
    this.own = "protomesh_" + underscored(statPrefix) + "_";
    this.routeMismatch = this.counter("route_mismatch_total");
    this.decodeErrors = this.counter("decode_errors_total");
    this.timeouts = this.counter("decode_timeouts_total");
  }

  /** Defines protomesh_<prefix>_<name>. */
  counter(name: string): i64 {
    return defineOrWarn(MetricType.Counter, this.own + name);
  }

  /** Counts one call of destination `dest` with `outcome`. */
  request(dest: i32, outcome: i32): void {
    count(this.requests[dest * this.outcomes + outcome]);
  }
}
