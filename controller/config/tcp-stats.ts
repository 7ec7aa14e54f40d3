/**
 * tcp-stats' plugin configuration schema: the same fields, rules and words as the filter's parser
 * (assembly/filters/tcp-stats/config.ts). The default prefix is the filter's (`tcp_stats`).
 */
import { z } from "zod";
import { checkOneOf, checkStatPrefix, optionalField, show, type FieldCheck } from "./fields.js";

export const TCP_STATS_FIELDS = ["stat_prefix", "istio_metrics", "max_series"] as const;

/** `istio_metrics` values, in the filter's order (config.ts ISTIO_METRICS_NAMES). */
export const ISTIO_METRICS_MODES = ["off", "prefixed", "istio"] as const;
export type IstioMetricsMode = (typeof ISTIO_METRICS_MODES)[number];

/** Upper bound of `max_series` (config.ts MAX_MAX_SERIES). */
export const MAX_MAX_SERIES = 100000;

const checkMaxSeries: FieldCheck = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_MAX_SERIES
    ? null
    : `must be a number of label sets, an integer 1..${MAX_MAX_SERIES}, found ${show(v)}`;

export const tcpStatsSchema = z.strictObject({
  stat_prefix: optionalField(checkStatPrefix),
  istio_metrics: optionalField(checkOneOf(ISTIO_METRICS_MODES)),
  max_series: optionalField(checkMaxSeries),
});

export function tcpStatsKnownFields(): readonly string[] {
  return TCP_STATS_FIELDS;
}
