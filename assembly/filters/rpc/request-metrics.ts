// The RPC filters' own counters, protomesh_<stat_prefix>_* (route_mismatch, decode errors and
// timeouts, and protocol-specific ones). The request metrics with Istio's names and labels come
// from the telemetry engine's prometheus handler (./telemetry.ts).
import { MetricType, WasmResult, defineMetric, incrementMetric } from "../../runtime";
import { warnFailed } from "./warn";

/** A metric id, or -1 when defining it failed (then updates are skipped). */
export const NO_METRIC: i64 = -1;

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

export class FilterCounters {
  /** protomesh_<prefix>_route_mismatch_total / decode_errors_total / decode_timeouts_total. */
  routeMismatch: i64 = NO_METRIC;
  decodeErrors: i64 = NO_METRIC;
  timeouts: i64 = NO_METRIC;
  /** "protomesh_<prefix>_", for a protocol's own counters (counter()). */
  own: string = "";

  constructor(statPrefix: string) {
    this.own = "protomesh_" + underscored(statPrefix) + "_";
    this.routeMismatch = this.counter("route_mismatch_total");
    this.decodeErrors = this.counter("decode_errors_total");
    this.timeouts = this.counter("decode_timeouts_total");
  }

  /** Defines protomesh_<prefix>_<name>. */
  counter(name: string): i64 {
    return defineOrWarn(MetricType.Counter, this.own + name);
  }
}
