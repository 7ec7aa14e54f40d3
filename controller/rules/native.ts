/**
 * What the dubbo_proxy and thrift_proxy renderers share: the refuse-or-warn rule, header matchers,
 * weighted clusters and glob handling.
 *
 * The rule (controller/rules/README.md, "When the native proxy cannot say it"):
 * - REFUSE when the native proxy would route a call differently from the rule set (a match or an
 *   action it cannot express): the render fails with the rule's file, line and what to change,
 *   because a route table that silently disagrees with the wasm filter is worse than none.
 * - WARN when a rule carries something only the protomesh wasm filter in front enforces (policy,
 *   faults, a deny-only rule): the route table is still exact, the warning says who enforces it.
 */
import type { LoadedRuleSet, RulePath } from "./load.js";
import type { HeaderMatch, NameMatch, Rule, RuleRoute } from "./schema.js";

/** A rendered native route configuration plus the warnings of the rule. */
export interface NativeRender<T> {
  readonly config: T;
  /** Sentences naming file:line and rule; print them, they do not stop the render. */
  readonly warnings: readonly string[];
}

export type NativeProxy = "dubbo_proxy" | "thrift_proxy";

export function rulePath(index: number, ...rest: (string | number)[]): RulePath {
  return ["spec", "rules", index, ...rest];
}

/** The WARN half of the rule: what only the wasm filter enforces. Returns the warnings of one rule. */
export function wasmOnlyWarnings(set: LoadedRuleSet, rule: Rule, index: number, proxy: NativeProxy): string[] {
  const out: string[] = [];
  const parts: string[] = [];
  // A deny-only rule has its own warning below; "only routes" would be wrong for it.
  if (rule.policy?.deny === true && rule.route !== undefined) parts.push("policy.deny");
  if (rule.policy?.rateLimit !== undefined) parts.push("policy.rateLimit");
  if (rule.fault?.delay !== undefined) parts.push("fault.delay");
  if (rule.fault?.abort !== undefined) parts.push("fault.abort");
  if (parts.length > 0) {
    out.push(
      `${set.where(rulePath(index))}: rule ${rule.name}: ${parts.join(", ")} ${parts.length === 1 ? "is" : "are"} enforced by the protomesh ` +
        `wasm filter placed before ${proxy}, not by ${proxy}; without that filter the rule only routes`,
    );
  }
  if (rule.route === undefined) {
    out.push(
      `${set.where(rulePath(index))}: rule ${rule.name} denies and has no route, so ${proxy} gets no route for it: ` +
        `its calls are answered by the wasm filter; without that filter they fall through to the rules after it`,
    );
  }
  return out;
}

/** `*` in a glob stands for one or more characters; everything else is literal. */
export function globToRegex(glob: string): string {
  return glob.split("*").map(escapeRegex).join(".+");
}

/** RE2 / JavaScript regex escaping of a literal. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/** The model's NameMatch as one regex (full match), for StringMatcher.safe_regex and for the emulator. */
export function nameMatchRegex(m: NameMatch): string {
  if ("exact" in m) return escapeRegex(m.exact);
  if ("prefix" in m) return `${escapeRegex(m.prefix)}.+`;
  return globToRegex(m.glob);
}

/**
 * Envoy's `config.route.v3.HeaderMatcher` for one header match. Names are lower-cased: the native
 * proxies keep attachments / THeader headers in an HTTP header map (lower-case keys).
 */
export function headerMatcher(h: HeaderMatch): Record<string, unknown> {
  const name = h.name.toLowerCase();
  if ("present" in h) return { name, present_match: true };
  if ("prefix" in h) return { name, string_match: { prefix: h.prefix } };
  return { name, string_match: { exact: h.exact } };
}

/** `cluster` or `weighted_clusters` of a route action, for a WeightedCluster shape `{ clusters: [{ name, weight }] }`. */
export function routeAction(route: RuleRoute): Record<string, unknown> {
  if ("cluster" in route) return { cluster: route.cluster };
  return { weighted_clusters: { clusters: route.weightedClusters.map((w) => ({ name: w.name, weight: w.weight })) } };
}

/** Every cluster a rule set routes to, sorted, for the bootstrap's cluster list and checks. */
export function routedClusters(rules: readonly Rule[]): string[] {
  const names = new Set<string>();
  for (const r of rules) {
    if (r.route === undefined) continue;
    if ("cluster" in r.route) names.add(r.route.cluster);
    else for (const w of r.route.weightedClusters) names.add(w.name);
  }
  return [...names].sort();
}
