/**
 * Envoy's admin `/stats/prometheus` text, rendered the way Envoy renders it, from the emulated
 * process's stats plus any stats a test injects for other namespaces (Istio's `istiocustom`).
 *
 * Rules copied from Envoy (paths in envoyproxy/envoy):
 * - Tags: every bootstrap `stats_config.stats_tags` regex runs over the stat's full name
 *   (`wasmcustom.<name>`); on a match the first capture group is cut out of the name and the
 *   second is the tag value (source/common/stats/tag_extractor_impl.cc
 *   `TagExtractorStdRegexImpl::extractTag`). Every extractor sees the original name; the cut
 *   ranges are unioned and removed at the end (source/common/stats/tag_producer_impl.cc
 *   `TagProducerImpl::produceTags`). Tags keep extractor order. Envoy's built-in default
 *   extractors only match names with Envoy's own prefixes (`cluster.`, `http.`, `listener.`, …)
 *   or `_rq_<code>` endings; they are not modelled here.
 * - Families: stats of one type are grouped by tag-extracted name *with* its namespace
 *   (`std::map<StatName, …>` in source/server/admin/prometheus_stats.cc `outputStatType`), so
 *   `wasmcustom.x` and `istiocustom.x` are two families that both print `# TYPE x …`.
 * - Names: a registered custom namespace (`wasmcustom`, and `istiocustom` when Istio's filters
 *   are present) is stripped and the rest sanitised (`[^a-zA-Z0-9_]` → `_`); an empty or
 *   digit-led result is dropped. Any other name gets `envoy_` + sanitised name
 *   (source/server/admin/prometheus_stats_formatter.cc `PrometheusStatsFormatter::metricName`).
 * - Labels: names sanitised the same way, values escaped `\` → `\\`, newline → `\n`,
 *   `"` → `\"` (prometheus_stats_formatter.cc `sanitizeValue`, `formattedTags`). A stat without
 *   tags prints `name{} value`.
 * - Order: counters, gauges, (text readouts, off by default), histograms
 *   (`PrometheusStatsFormatter::statsAsPrometheus`); families and the series inside a family
 *   sorted by StatName, i.e. token by token on `.` (source/common/stats/symbol_table.cc
 *   `SymbolTableImpl::lessThan`). Each family ends with an empty line.
 * - Histograms: one `_bucket` per supported bound, then `+Inf`, `_sum`, `_count`
 *   (source/server/admin/prometheus_stats_render.cc `PrometheusStatsRender::generate`); bounds
 *   default to `HistogramSettingsImpl::defaultBuckets` (source/common/stats/histogram_impl.cc);
 *   numbers printed `{:.32g}`. Counts come from circllhist: a sample counts towards `le=b` only
 *   when its whole bin (two significant digits) is ≤ b (`hist_approx_count_below`), and the sum
 *   is the sum of bin midpoints (`hist_approx_sum`).
 */
import { CUSTOM_STAT_NAMESPACE, type StatSnapshot } from "./metrics.js";

/** One bootstrap `stats_config.stats_tags` entry (regex form). */
export interface StatsTag {
  readonly tagName: string;
  readonly regex: string;
}

export type PromStatType = "counter" | "gauge" | "histogram";

/** One stat as Envoy holds it: full name with namespace. */
export interface PromStat {
  readonly name: string;
  readonly type: PromStatType;
  /** Counter / gauge value. */
  readonly value?: bigint;
  /** Histogram samples. */
  readonly samples?: readonly bigint[];
  /**
   * Tags the stat was created with (`Stats::Utility::counterFromElements(scope, names, tags)`,
   * how istio/proxy's istio.stats makes its metrics); such a stat's name carries no tags and no
   * stats_tags regex runs on it.
   */
  readonly tags?: readonly Tag[];
}

export interface RenderOptions {
  readonly statsTags?: readonly StatsTag[];
  /**
   * Registered custom stat namespaces. Envoy's wasm extension registers `wasmcustom`
   * (source/extensions/common/wasm/wasm.cc); istio/proxy registers `istiocustom` for istio.stats.
   * @default ["wasmcustom"]
   */
  readonly customNamespaces?: readonly string[];
  /** @default Envoy's default histogram bounds */
  readonly buckets?: readonly number[];
}

/** source/common/stats/histogram_impl.cc `HistogramSettingsImpl::defaultBuckets`. */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export interface Tag {
  readonly name: string;
  readonly value: string;
}

/** TagProducerImpl::produceTags over the configured extractors. */
export function extractTags(name: string, statsTags: readonly StatsTag[]): { extracted: string; tags: Tag[] } {
  const tags: Tag[] = [];
  const cut = new Array<boolean>(name.length).fill(false);
  for (const t of statsTags) {
    // std::regex_search with ECMAScript grammar: the first match anywhere in the name.
    const m = new RegExp(t.regex, "d").exec(name) as (RegExpExecArray & { indices?: [number, number][] }) | null;
    if (m === null) continue;
    const remove = m.indices?.[1];
    const value = m[2] ?? m[1] ?? "";
    if (remove !== undefined) for (let i = remove[0]; i < remove[1]; i++) cut[i] = true;
    tags.push({ name: t.tagName, value });
  }
  let extracted = "";
  for (let i = 0; i < name.length; i++) if (!cut[i]) extracted += name[i];
  return { extracted, tags };
}

/** SymbolTableImpl::lessThan: token-wise comparison on `.`. */
export function statNameCompare(a: string, b: string): number {
  const ta = a.split(".");
  const tb = b.split(".");
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    if (ta[i] !== tb[i]) return ta[i]! < tb[i]! ? -1 : 1;
  }
  return ta.length - tb.length;
}

const sanitizeName = (s: string): string => s.replace(/[^a-zA-Z0-9_]/g, "_");
const sanitizeValue = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** PrometheusStatsFormatter::metricName; undefined = dropped. */
export function metricName(extracted: string, customNamespaces: readonly string[]): string | undefined {
  for (const ns of customNamespaces) {
    if (extracted.startsWith(ns + ".")) {
      const s = sanitizeName(extracted.slice(ns.length + 1));
      if (s === "" || (s[0]! >= "0" && s[0]! <= "9")) return undefined;
      return s;
    }
  }
  return "envoy_" + sanitizeName(extracted);
}

const formattedTags = (tags: readonly Tag[]): string =>
  tags.map((t) => `${sanitizeName(t.name)}="${sanitizeValue(t.value)}"`).join(",");

/** fmt `{:.32g}`: 32 significant digits, trailing zeros dropped, exponent outside [-4, 32). */
export function formatG32(x: number): string {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 32) {
    const [m, e] = x.toExponential(31).split("e");
    const mant = m!.includes(".") ? m!.replace(/0+$/, "").replace(/\.$/, "") : m!;
    const en = Number(e);
    return `${mant}e${en < 0 ? "-" : "+"}${String(Math.abs(en)).padStart(2, "0")}`;
  }
  const p = x.toPrecision(32);
  return p.includes(".") ? p.replace(/0+$/, "").replace(/\.$/, "") : p;
}

/** circllhist bin of a non-negative integer sample: [lower, lower + width). */
function bin(v: bigint): { lower: number; width: number } {
  if (v === 0n) return { lower: 0, width: 0 };
  const digits = v.toString();
  if (digits.length === 1) return { lower: Number(v), width: 0.1 };
  const e = digits.length - 2;
  const width = 10 ** e;
  return { lower: Number(digits.slice(0, 2)) * width, width };
}

interface Series {
  readonly fullName: string;
  readonly tags: Tag[];
  readonly stat: PromStat;
}

/** Renders the whole `/stats/prometheus` body for the given stats. */
export function renderPrometheus(stats: readonly PromStat[], opts: RenderOptions = {}): string {
  const statsTags = opts.statsTags ?? [];
  const namespaces = opts.customNamespaces ?? [CUSTOM_STAT_NAMESPACE];
  const buckets = opts.buckets ?? ENVOY_DEFAULT_BUCKETS;
  let out = "";
  for (const type of ["counter", "gauge", "histogram"] as const) {
    const groups = new Map<string, Series[]>();
    for (const s of stats) {
      if (s.type !== type) continue;
      const { extracted, tags } = s.tags ? { extracted: s.name, tags: [...s.tags] } : extractTags(s.name, statsTags);
      let g = groups.get(extracted);
      if (!g) groups.set(extracted, (g = []));
      // A natively tagged stat's StatName holds its tag names and values after the name.
      const fullName = s.tags ? [s.name, ...s.tags.flatMap((t) => [t.name, t.value])].join(".") : s.name;
      g.push({ fullName, tags, stat: s });
    }
    for (const key of [...groups.keys()].sort(statNameCompare)) {
      const name = metricName(key, namespaces);
      if (name === undefined) continue;
      out += `# TYPE ${name} ${type}\n`;
      const series = groups.get(key)!.sort((a, b) => statNameCompare(a.fullName, b.fullName));
      for (const s of series) {
        const tags = formattedTags(s.tags);
        if (type !== "histogram") {
          out += `${name}{${tags}} ${s.stat.value ?? 0n}\n`;
          continue;
        }
        const samples = s.stat.samples ?? [];
        const bins = samples.map(bin);
        const histTags = s.tags.length === 0 ? "" : tags + ",";
        for (const b of buckets) {
          const n = bins.filter((x) => x.lower + x.width <= b).length;
          out += `${name}_bucket{${histTags}le="${formatG32(b)}"} ${n}\n`;
        }
        const sum = bins.reduce((a, x) => a + x.lower + x.width / 2, 0);
        out += `${name}_bucket{${histTags}le="+Inf"} ${samples.length}\n`;
        out += `${name}_sum{${tags}} ${formatG32(sum)}\n`;
        out += `${name}_count{${tags}} ${samples.length}\n`;
      }
      out += "\n";
    }
  }
  return out;
}

/** What renderPrometheus needs from the emulated process (test/host/host.ts `Host`). */
export interface StatsSource {
  stats(): readonly StatSnapshot[];
  histogram(name: string): bigint[] | undefined;
}

/** The emulated process's wasm stats as PromStats (full names, `wasmcustom.` prefixed). */
export function wasmStats(host: StatsSource): PromStat[] {
  const prefix = CUSTOM_STAT_NAMESPACE + ".";
  return host.stats().map((s) =>
    s.type === "histogram"
      ? { name: s.name, type: s.type, samples: host.histogram(s.name.slice(prefix.length)) ?? [] }
      : { name: s.name, type: s.type, value: s.value },
  );
}

/** `GET /stats/prometheus` of the emulated process, plus stats of other namespaces a test adds. */
export function prometheusText(host: StatsSource, opts: RenderOptions = {}, extra: readonly PromStat[] = []): string {
  return renderPrometheus([...wasmStats(host), ...extra], opts);
}
