/**
 * tcp-stats' plugin configuration schema: the same fields, rules and words as the filter's parser
 * (assembly/filters/tcp-stats/config.ts, and assembly/telemetry/otlp/config.ts for `otlp`). The
 * default prefix is the filter's (`tcp_stats`).
 */
import { z } from "zod";
import {
  WHOLE, checkClusterName, checkDurationMs, checkObject, checkOneOf, checkStatPrefix, field, optionalField, show,
  type FieldCheck,
} from "./fields.js";

export const TCP_STATS_FIELDS = ["stat_prefix", "istio_metrics", "max_series", "otlp"] as const;

/** `istio_metrics` values, in the filter's order (config.ts ISTIO_METRICS_NAMES). */
export const ISTIO_METRICS_MODES = ["off", "prefixed", "istio"] as const;
export type IstioMetricsMode = (typeof ISTIO_METRICS_MODES)[number];

/** Upper bound of `max_series` (config.ts MAX_MAX_SERIES). */
export const MAX_MAX_SERIES = 100000;

/**
 * The `otlp` section's defaults and bounds (assembly/telemetry/otlp/config.ts holds the same
 * numbers; the filter applies the defaults).
 */
export const OTLP_DEFAULTS = {
  /** Export deadline. @default 5000 */
  timeout_ms: 5000,
  /** Log records per request. @default 256 */
  batch_size: 256,
  /** Log records held per VM while an export is outstanding or failing. @default 2048 */
  max_queue_size: 2048,
  /** Partial batches and the cumulative metrics are sent this often. @default 10000 */
  flush_interval_ms: 10000,
  /** @default true */
  logs: true,
  /** @default true */
  metrics: true,
} as const;
export const OTLP_BOUNDS = {
  timeout_ms: [1, 60000],
  batch_size: [1, 1000],
  max_queue_size: [1, 65536],
  flush_interval_ms: [100, 3600000],
} as const;
export const OTLP_FIELDS = ["cluster", "authority", "timeout_ms", "batch_size", "max_queue_size", "flush_interval_ms", "logs", "metrics"] as const;

const checkMaxSeries: FieldCheck = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_MAX_SERIES
    ? null
    : `must be a number of label sets, an integer 1..${MAX_MAX_SERIES}, found ${show(v)}`;

const checkRecords = (lo: number, hi: number): FieldCheck => (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? null : `must be a number of log records, an integer ${lo}..${hi}, found ${show(v)}`;
const checkBool: FieldCheck = (v) => (typeof v === "boolean" ? null : `must be true or false, found ${show(v)}`);
const checkAuthority: FieldCheck = (v) =>
  typeof v === "string" && v.length >= 1 && v.length <= 255 && /^[\x21-\x7e]+$/.test(v)
    ? null
    : `must be an authority: 1 to 255 bytes of visible ASCII (host or host:port), found ${show(v)}`;

const otlpSchema = z.strictObject({
  cluster: field(checkClusterName),
  authority: optionalField(checkAuthority),
  timeout_ms: optionalField(checkDurationMs(...OTLP_BOUNDS.timeout_ms)),
  batch_size: optionalField(checkRecords(...OTLP_BOUNDS.batch_size)),
  max_queue_size: optionalField(checkRecords(...OTLP_BOUNDS.max_queue_size)),
  flush_interval_ms: optionalField(checkDurationMs(...OTLP_BOUNDS.flush_interval_ms)),
  logs: optionalField(checkBool),
  metrics: optionalField(checkBool),
}).superRefine((o, ctx) => {
  const batch = typeof o.batch_size === "number" ? o.batch_size : OTLP_DEFAULTS.batch_size;
  const queue = typeof o.max_queue_size === "number" ? o.max_queue_size : OTLP_DEFAULTS.max_queue_size;
  if (queue < batch) {
    ctx.addIssue({ code: "custom", path: ["max_queue_size"], params: WHOLE, message: `"otlp.max_queue_size" must be at least batch_size (${batch}), found ${queue}` });
  }
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
