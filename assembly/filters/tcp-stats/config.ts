// tcp-stats configuration: optional JSON object `{"stat_prefix": "tcp_stats"}`. Pure code.
// The `otlp` section is the OTLP backend's (../../telemetry/otlp/config.ts, its defaults there).
// stat_prefix is checked by the runtime's stat-prefix validator (../../runtime/fields), the same
// rule as every filter's and the controller's.
import { JsonKind, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import { OtlpConfig, parseOtlpConfig } from "../../telemetry/otlp/config";

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
}

export const TCP_STATS_FIELDS = "stat_prefix, istio_metrics, max_series, otlp";

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
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    if (key == "stat_prefix") {
      const prefix = f.statPrefix(v.values[i], key);
      if (f.ok) c.statPrefix = prefix;
    } else if (key == "istio_metrics") {
      const mode = f.oneOf(v.values[i], key, ISTIO_METRICS_NAMES);
      if (f.ok) c.istioMetrics = <IstioMetrics>mode;
    } else if (key == "max_series") {
      const n = f.int(v.values[i], key, "a number of label sets", 1, MAX_MAX_SERIES);
      if (f.ok) c.maxSeries = n;
    } else if (key == "otlp") {
      const o = parseOtlpConfig(v.values[i], f, key);
      if (f.ok) c.otlp = o;
    } else {
      f.unknown(key, TCP_STATS_FIELDS);
    }
    if (!f.ok) return invalid(c, f.error);
  }
  return new TcpStatsConfigParse(c, "");
}
