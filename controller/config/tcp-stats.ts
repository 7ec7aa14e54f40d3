/**
 * tcp-stats' plugin configuration schema: the same fields, rules and words as the filter's parser
 * (assembly/filters/tcp-stats/config.ts, and assembly/telemetry/otlp/config.ts for `otlp`, whose
 * defaults and bounds are the one file both compile: assembly/telemetry/otlp/defaults.ts). The
 * default prefix is the filter's (`tcp_stats`).
 */
import { z } from "zod";
import {
  WHOLE, checkObject, checkOneOf, checkStatPrefix, field, optionalField, show, type FieldCheck,
} from "./fields.js";
import { OTLP_FIELDS, OTLP_FIELD_CHECKS, otlpSettingsProblem } from "./otlp.js";

export const TCP_STATS_FIELDS = ["stat_prefix", "istio_metrics", "max_series", "otlp"] as const;

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
});

export function tcpStatsKnownFields(path: readonly PropertyKey[] = []): readonly string[] {
  return path.length > 0 && path[0] === "otlp" ? OTLP_FIELDS : TCP_STATS_FIELDS;
}
