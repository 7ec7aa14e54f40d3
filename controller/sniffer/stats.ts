/**
 * Tag extraction for the sniffer's metrics. The filter writes tags into the metric name, Istio
 * style: `protocol=.=redis;.;mode=.=route;.;action=.=cluster;.;protomesh_<stat_prefix>_connections_total`
 * (assembly/filters/sniffer/decide.ts, metricName; Envoy prefixes wasm metrics with `wasmcustom.`).
 * An Envoy `stats_config.stats_tags` entry turns each `key=.=value;.;` into a tag: its regex's
 * first group is cut from the name, the second is the value (envoy/config/metrics/v3/stats.proto,
 * TagSpecifier), so a scrape shows `protomesh_sniffer_connections_total{protocol="redis",...}`.
 *
 * Istio generates the same shape for `extraStatTags` as `(<key>=\.=(.*?);\.;)`, unanchored. That
 * form would also find `protocol=.=` inside another plugin's `request_protocol=.=`, so the
 * standalone bootstrap uses an anchored form: the key must start the name or follow `.` or `;`.
 */

/** Tag keys the filter writes (decide.ts / index.ts defineMetrics). Extend here when it adds one. */
export const SNIFFER_STAT_TAG_KEYS = ["protocol", "mode", "action", "reason"] as const;

export interface StatsTag {
  readonly tagName: string;
  readonly regex: string;
}

/** One Envoy stats_tags entry per key, anchored so `request_protocol=.=` is not taken for `protocol`. */
export function snifferStatsTags(keys: readonly string[] = SNIFFER_STAT_TAG_KEYS): StatsTag[] {
  return keys.map((key) => {
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new Error(`snifferStatsTags: tag key ${JSON.stringify(key)} must match [a-z][a-z0-9_]*`);
    return { regex: `(?:^|[.;])(${key}=\\.=(.*?);\\.;)`, tagName: key };
  });
}

/**
 * For Istio: the names to list in `meshConfig.defaultConfig.extraStatTags` (or the pod annotation
 * `sidecar.istio.io/extraStatTags`, comma-separated); istiod writes the unanchored regex for each.
 */
export function istioExtraStatTags(): string[] {
  return [...SNIFFER_STAT_TAG_KEYS];
}
