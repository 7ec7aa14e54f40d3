// tcp-stats configuration: optional JSON object `{"stat_prefix": "tcp_stats"}`. Pure code.
// The `otlp` section is the OTLP backend's (../../telemetry/otlp/config.ts, its defaults there);
// `handlers` and `rules` are the telemetry engine's (../../telemetry/config.ts, the schema every
// filter carrying the engine shares), checked here for what a TCP connection can give them.
// stat_prefix is checked by the runtime's stat-prefix validator (../../runtime/fields), the same
// rule as every filter's and the controller's.
import { JsonKind, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import { OtlpConfig, parseOtlpConfig } from "../../telemetry/otlp/config";
import { JsonValue } from "../../runtime/json";
import { TelemetryConfig, parseTelemetry } from "../../telemetry/config";
import { HTTP_ATTRIBUTES, isResponseAttr } from "../../telemetry/request";
import { PrometheusHandler } from "../../telemetry/handlers/prometheus";

export const DEFAULT_STAT_PREFIX = "tcp_stats";

/** Istio-style TCP metrics (README "Istio metrics"). */
export enum IstioMetrics {
  /** None. */
  Off = 0,
  /** `protomesh_tcp_*`: Istio's labels, a family name istio.stats never prints. */
  Prefixed = 1,
  /** `istio_tcp_*`: Istio's names, only where istio.stats does not run (standalone Envoy). */
  Istio = 2,
}
export const ISTIO_METRICS_NAMES: string[] = ["off", "prefixed", "istio"];
export const DEFAULT_MAX_SERIES: i32 = 1000;
export const MAX_MAX_SERIES: i32 = 100000;

export class TcpStatsConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
  istioMetrics: IstioMetrics = IstioMetrics.Prefixed;
  /** Distinct label sets per VM before the overflow series. */
  maxSeries: i32 = DEFAULT_MAX_SERIES;
  /** OTLP export of connection logs and metrics; null = off (the default). */
  otlp: OtlpConfig | null = null;
  /**
   * Rules → handlers (README "Rules and handlers"); null without `handlers` and `rules`, when
   * `istio_metrics` alone decides the Istio-style metrics, as before handlers existed.
   */
  telemetry: TelemetryConfig | null = null;
}

export const TCP_STATS_FIELDS = "stat_prefix, istio_metrics, max_series, otlp, handlers, rules";

/** An access log handler without `attributes` writes these for a connection. */
export const DEFAULT_TCP_LOG_ATTRIBUTES: string[] = [
  "connection.id", "request.protocol", "source.workload", "source.principal", "source.address", "destination.workload",
  "destination.address", "xds.cluster_name", "connection.mtls", "connection.received.bytes", "connection.sent.bytes", "connection.duration",
];

/** The metric-name prefix of the Istio-style metrics for `m`. */
export function istioMetricPrefix(m: IstioMetrics): string {
  return m == IstioMetrics.Istio ? "istio_" : "protomesh_";
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class TcpStatsConfigParse {
  constructor(public config: TcpStatsConfig, public error: string) {}
}

function invalid(c: TcpStatsConfig, why: string): TcpStatsConfigParse {
  return new TcpStatsConfigParse(c, "tcp-stats: invalid configuration: " + why);
}

/** Parses `text` (as UTF-8); see parseTcpStatsConfigBytes. */
export function parseTcpStatsConfig(text: string): TcpStatsConfigParse {
  return parseTcpStatsConfigBytes(String.UTF8.encode(text));
}

/** The plugin configuration's bytes; empty or whitespace-only means all defaults. */
export function parseTcpStatsConfigBytes(bytes: ArrayBuffer): TcpStatsConfigParse {
  const c = new TcpStatsConfig();
  if (isBlank(bytes)) return new TcpStatsConfigParse(c, "");
  const p = parseJsonBytes(bytes);
  if (!p.ok) return invalid(c, p.message());
  const v = p.value!;
  if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
  const f = new Fields();
  let handlers: JsonValue | null = null;
  let rules: JsonValue | null = null;
  let istioMetricsSet = false;
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    if (key == "stat_prefix") {
      const prefix = f.statPrefix(v.values[i], key);
      if (f.ok) c.statPrefix = prefix;
    } else if (key == "istio_metrics") {
      const mode = f.oneOf(v.values[i], key, ISTIO_METRICS_NAMES);
      if (f.ok) c.istioMetrics = <IstioMetrics>mode;
      istioMetricsSet = true;
    } else if (key == "max_series") {
      const n = f.int(v.values[i], key, "a number of label sets", 1, MAX_MAX_SERIES);
      if (f.ok) c.maxSeries = n;
    } else if (key == "otlp") {
      const o = parseOtlpConfig(v.values[i], f, key);
      if (f.ok) c.otlp = o;
    } else if (key == "handlers") {
      handlers = v.values[i];
    } else if (key == "rules") {
      rules = v.values[i];
    } else {
      f.unknown(key, TCP_STATS_FIELDS);
    }
    if (!f.ok) return invalid(c, f.error);
  }
  if (handlers === null && rules === null) return new TcpStatsConfigParse(c, "");
  if (istioMetricsSet) {
    return invalid(c, "\"istio_metrics\" applies only without handlers; with handlers, a prometheus handler's \"metrics\" (auto, prefixed, istio) names the Istio-style metrics");
  }
  const t = new TelemetryConfig();
  parseTelemetry(f, handlers, rules, t, DEFAULT_TCP_LOG_ATTRIBUTES, "");
  if (f.ok) checkTcpTelemetry(f, t);
  if (!f.ok) return invalid(c, f.error);
  c.telemetry = t;
  return new TcpStatsConfigParse(c, "");
}

/**
 * What a TCP connection can give the handlers: a prometheus handler's series is chosen when the
 * peer is known (README "Istio metrics"), so its rules may not test what is known only at close,
 * and its label set is Istio's TCP set (no `dimensions`).
 */
function checkTcpTelemetry(f: Fields, t: TelemetryConfig): void {
  if (t.headerField.length > 0) {
    f.fail("\"" + t.headerField + "\" names a request.headers attribute, but a TCP connection has no headers (use the http-telemetry, dubbo or thrift filter)");
    return;
  }
  for (let h = 0; h < t.handlers.length && f.ok; h++) {
    const handler = t.handlers[h];
    if (handler.kind != "prometheus") continue;
    if (changetype<PrometheusHandler>(handler).dimensionKeys.length > 0) {
      f.fail("prometheus handler \"" + handler.name + "\": \"dimensions\" are not supported by tcp-stats (a TCP series carries Istio's TCP label set only)");
      return;
    }
    for (let r = 0; r < t.rules.length; r++) {
      const rule = t.rules[r];
      if ((rule.handlerMask & ((<u32>1) << <u32>h)) == 0) continue;
      for (let m = 0; m < rule.matches.length; m++) {
        const a = rule.matches[m].attr;
        if (isResponseAttr(a)) {
          f.fail("rule \"" + rule.name + "\" feeds prometheus handler \"" + handler.name + "\" (its series is chosen when the peer is known) but matches " + HTTP_ATTRIBUTES[a] + ", known only at close");
          return;
        }
      }
    }
  }
}
