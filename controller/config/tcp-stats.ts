/**
 * tcp-stats' plugin configuration schema: the same fields, rules and words as the filter's parser
 * (assembly/filters/tcp-stats/config.ts, and assembly/telemetry/otlp/config.ts for `otlp`, whose
 * defaults and bounds are the one file both compile: assembly/telemetry/otlp/defaults.ts). The
 * default prefix is the filter's (`tcp_stats`). `handlers` and `rules` are the telemetry engine's
 * schema, checked by http-telemetry's reader (./http-telemetry.ts), then what a TCP connection can
 * give them (config.ts checkTcpTelemetry).
 */
import { z } from "zod";
import { firstHeaderAttributeField, httpTelemetryProblem } from "./http-telemetry.js";
import {
  WHOLE, checkObject, checkOneOf, checkStatPrefix, field, optionalField, show, type FieldCheck,
} from "./fields.js";
import { OTLP_FIELDS, OTLP_FIELD_CHECKS, otlpSettingsProblem } from "./otlp.js";

export const TCP_STATS_FIELDS = ["stat_prefix", "istio_metrics", "max_series", "otlp", "handlers", "rules"] as const;

/** Attributes known only at a connection's close (assembly/telemetry/request.ts isResponseAttr). */
const CLOSE_ATTRIBUTES: readonly string[] = [
  "request.total_size", "response.code", "response.grpc_status", "response.duration", "response.total_size", "response.flags",
  "connection.received.bytes", "connection.sent.bytes", "connection.duration",
];

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The first problem the filter finds in `handlers` / `rules` (without the `tcp-stats: invalid
 * configuration: ` prefix), null when none: the order of config.ts parseTcpStatsConfigBytes.
 */
export function tcpStatsTelemetryProblem(config: Readonly<Record<string, Json>>): string | null {
  const { handlers, rules } = config;
  if (handlers === undefined && rules === undefined) return null;
  if (config["istio_metrics"] !== undefined) {
    return '"istio_metrics" applies only without handlers; with handlers, a prometheus handler\'s "metrics" (auto, prefixed, istio) names the Istio-style metrics';
  }
  const engine = httpTelemetryProblem({ ...(handlers === undefined ? {} : { handlers }), ...(rules === undefined ? {} : { rules }) });
  if (engine !== null) return engine;
  const header = firstHeaderAttributeField();
  if (header !== "") {
    return `"${header}" names a request.headers attribute, but a TCP connection has no headers (use the http-telemetry, dubbo or thrift filter)`;
  }
  const hs = (Array.isArray(handlers) ? handlers : [{ name: "prometheus", kind: "prometheus" }]) as Record<string, Json>[];
  const rs = (Array.isArray(rules) ? rules : [{ name: "all", handlers: hs.map((h) => h["name"]) }]) as Record<string, Json>[];
  for (const h of hs) {
    if (h["kind"] !== "prometheus") continue;
    const name = h["name"] as string;
    if (isObject(h["dimensions"]) && Object.keys(h["dimensions"]).length > 0) {
      return `prometheus handler "${name}": "dimensions" are not supported by tcp-stats (a TCP series carries Istio's TCP label set only)`;
    }
    for (const r of rs) {
      if (!(r["handlers"] as Json[]).includes(name)) continue;
      const late = Object.keys(isObject(r["match"]) ? r["match"] : {}).find((a) => CLOSE_ATTRIBUTES.includes(a));
      if (late !== undefined) {
        return `rule "${r["name"] as string}" feeds prometheus handler "${name}" (its series is chosen when the peer is known) but matches ${late}, known only at close`;
      }
    }
  }
  return null;
}

/** `istio_metrics` values, in the filter's order (config.ts ISTIO_METRICS_NAMES). */
export const ISTIO_METRICS_MODES = ["off", "prefixed", "istio"] as const;
export type IstioMetricsMode = (typeof ISTIO_METRICS_MODES)[number];

/** Upper bound of `max_series` (config.ts MAX_MAX_SERIES). */
export const MAX_MAX_SERIES = 100000;

/** The `otlp` section's fields. */
export { OTLP_FIELDS };

const checkMaxSeries: FieldCheck = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_MAX_SERIES
    ? null
    : `must be a number of label sets, an integer 1..${MAX_MAX_SERIES}, found ${show(v)}`;

const otlpSchema = z.strictObject({
  cluster: field(OTLP_FIELD_CHECKS["cluster"]!),
  ...Object.fromEntries(OTLP_FIELDS.filter((k) => k !== "cluster").map((k) => [k, optionalField(OTLP_FIELD_CHECKS[k]!)])),
}).superRefine((o, ctx) => {
  // A missing cluster is field()'s "is required"; the queue bound is the one check across fields.
  const why = o.cluster === undefined ? null : otlpSettingsProblem(o, "otlp");
  if (why !== null) ctx.addIssue({ code: "custom", path: ["max_queue_size"], params: WHOLE, message: why });
});

const checkOtlpObject = checkObject("with the collector's cluster and export settings");

export const tcpStatsSchema = z.strictObject({
  stat_prefix: optionalField(checkStatPrefix),
  istio_metrics: optionalField(checkOneOf(ISTIO_METRICS_MODES)),
  max_series: optionalField(checkMaxSeries),
  otlp: z.any().superRefine((v, ctx) => {
    const why = checkOtlpObject(v);
    if (why !== null) {
      ctx.addIssue({ code: "custom", message: why });
      return;
    }
    const r = otlpSchema.safeParse(v);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
  }).optional(),
  handlers: z.any().optional(),
  rules: z.any().optional(),
}).superRefine((v, ctx) => {
  const why = tcpStatsTelemetryProblem(v);
  if (why !== null) ctx.addIssue({ code: "custom", params: WHOLE, message: why });
});

export function tcpStatsKnownFields(path: readonly PropertyKey[] = []): readonly string[] {
  return path.length > 0 && path[0] === "otlp" ? OTLP_FIELDS : TCP_STATS_FIELDS;
}
