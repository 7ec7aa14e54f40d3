/**
 * tcp-stats' plugin configuration schema: the same field, rule and words as the filter's parser
 * (assembly/filters/tcp-stats/config.ts). The default prefix is the filter's (`tcp_stats`).
 */
import { z } from "zod";
import { checkStatPrefix, optionalField } from "./fields.js";

export const TCP_STATS_FIELDS = ["stat_prefix"] as const;

export const tcpStatsSchema = z.strictObject({
  stat_prefix: optionalField(checkStatPrefix),
});

export function tcpStatsKnownFields(): readonly string[] {
  return TCP_STATS_FIELDS;
}
