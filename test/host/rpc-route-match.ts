/**
 * The route-matching pieces dubbo_proxy and thrift_proxy share in Envoy, over the JSON of their
 * rendered configuration:
 * - `config.route.v3.HeaderMatcher` over a header map (Http::HeaderUtility::matchHeaders,
 *   source/common/http/header_utility.cc): every matcher must hold; names compare lower-cased;
 *   `present_match`, `string_match` (exact / prefix / suffix / contains / safe_regex) and
 *   `invert_match`;
 * - `type.matcher.v3.StringMatcher` (source/common/common/matchers.cc): safe_regex is a full match;
 * - weighted clusters: `random % total_weight` falls in [begin, begin + weight) of one cluster in
 *   order (thrift_proxy router_impl.cc RouteEntryImplBase::clusterEntry; dubbo_proxy
 *   WeightedClusterUtil::pickCluster).
 * Anything else in a matcher is refused at load with the field named, so a config the emulator
 * does not understand never routes silently.
 */

export type StringMatch = (value: string) => boolean;

function field(obj: unknown, where: string): Record<string, unknown> {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new Error(`${where}: expected an object`);
  return obj as Record<string, unknown>;
}

export function stringMatcher(json: unknown, where: string): StringMatch {
  const m = field(json, where);
  const ignoreCase = m.ignore_case === true;
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  if (typeof m.exact === "string") {
    const v = norm(m.exact);
    return (s) => norm(s) === v;
  }
  if (typeof m.prefix === "string") {
    const v = norm(m.prefix);
    return (s) => norm(s).startsWith(v);
  }
  if (typeof m.suffix === "string") {
    const v = norm(m.suffix);
    return (s) => norm(s).endsWith(v);
  }
  if (typeof m.contains === "string") {
    const v = norm(m.contains);
    return (s) => norm(s).includes(v);
  }
  if (m.safe_regex !== undefined) {
    const re = new RegExp(`^(?:${String(field(m.safe_regex, `${where}.safe_regex`).regex)})$`, "s");
    return (s) => re.test(s);
  }
  throw new Error(`${where}: no match pattern the emulator knows (exact, prefix, suffix, contains, safe_regex)`);
}

export type HeaderLookup = (lowerCaseName: string) => string | undefined;

/** Every HeaderMatcher of `list` as one predicate over a header lookup. */
export function headerMatchers(list: unknown, where: string): (headers: HeaderLookup) => boolean {
  if (list === undefined) return () => true;
  if (!Array.isArray(list)) throw new Error(`${where}: expected a list`);
  const each = list.map((raw, i) => {
    const at = `${where}[${i}]`;
    const h = field(raw, at);
    const name = String(h.name).toLowerCase();
    const invert = h.invert_match === true;
    let test: (v: string | undefined) => boolean;
    if (h.present_match !== undefined) {
      const want = h.present_match === true;
      test = (v) => (v !== undefined) === want;
    } else if (h.string_match !== undefined) {
      const sm = stringMatcher(h.string_match, `${at}.string_match`);
      test = (v) => v !== undefined && sm(v);
    } else {
      throw new Error(`${at}: only present_match and string_match are emulated`);
    }
    // header_utility.cc matchHeaders: an absent header fails every matcher but present_match:false,
    // and invert_match flips the result of a present header only.
    return (headers: HeaderLookup): boolean => {
      const v = headers(name);
      if (h.present_match !== undefined) return test(v) !== invert;
      return v !== undefined && test(v) !== invert;
    };
  });
  return (headers) => each.every((m) => m(headers));
}

export interface ClusterWeight {
  readonly name: string;
  readonly weight: number;
}

/** `{ cluster }` or `{ weighted_clusters: { clusters } }` as a picker taking the request's random value. */
export function clusterPicker(action: unknown, where: string): (random: number) => string {
  const a = field(action, where);
  if (typeof a.cluster === "string") {
    const name = a.cluster;
    return () => name;
  }
  if (a.weighted_clusters !== undefined) {
    const list = field(a.weighted_clusters, `${where}.weighted_clusters`).clusters;
    if (!Array.isArray(list) || list.length === 0) throw new Error(`${where}.weighted_clusters.clusters: expected a non-empty list`);
    const clusters: ClusterWeight[] = list.map((c, i) => {
      const cw = field(c, `${where}.weighted_clusters.clusters[${i}]`);
      return { name: String(cw.name), weight: Number(cw.weight) };
    });
    const total = clusters.reduce((s, c) => s + c.weight, 0);
    return (random) => {
      const selected = random % total;
      let begin = 0;
      for (const c of clusters) {
        const end = begin + c.weight;
        if (selected >= begin && selected < end) return c.name;
        begin = end;
      }
      return clusters[clusters.length - 1]!.name;
    };
  }
  throw new Error(`${where}: only cluster and weighted_clusters are emulated`);
}

/** Envoy's per-request random value (Random::RandomGenerator::random, a uint64); tests inject their own. */
export function defaultRandom(): number {
  return Math.floor(Math.random() * 2 ** 48);
}
