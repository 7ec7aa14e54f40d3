/**
 * The rule set as Envoy's native `dubbo_proxy` route table
 * (`envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration`).
 *
 * Envoy's shape (api/envoy/extensions/filters/network/dubbo_proxy/v3/route.proto; matching in
 * source/extensions/filters/network/dubbo_proxy/router/route_matcher.cc):
 * - `RouteConfiguration` holds `interface` (exact, `prefix*`, `*suffix` or `*`, the wildcard never
 *   matching an empty remainder: InterfaceMatcher), `group` (exact against attachment `group`) and
 *   `version` (exact against the body's service version), and its `routes`;
 * - each `Route` matches `method.name` (a StringMatcher) and `headers` (HeaderMatchers over the
 *   attachments, keys lower-cased: message_impl.cc Attachment) and routes to `cluster` or
 *   `weighted_clusters`;
 * - MultiRouteMatcher::route tries the configurations in order and, inside one, its routes in
 *   order; the first route that matches wins.
 *
 * So consecutive rules with the same service/group/version share one RouteConfiguration, and a
 * new one starts whenever they change: trying the configurations in order then tries the rules in
 * order, which keeps the rule set's first-match semantics exactly.
 */
import { assertValidEnvoy } from "../envoy/validate.js";
import type { LoadedRuleSet } from "../rules/load.js";
import {
  headerMatcher,
  nameMatchRegex,
  routeAction,
  rulePath,
  wasmOnlyWarnings,
  type NativeRender,
} from "../rules/native.js";
import type { NameMatch, Rule } from "../rules/schema.js";

export const DUBBO_ROUTE_TYPE = "envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration";

/** The `interface` of a RouteConfiguration for a rule's service match, or a refusal naming the fix. */
function dubboInterface(set: LoadedRuleSet, rule: Rule, index: number): string {
  const m: NameMatch | undefined = rule.match?.service;
  if (m === undefined) return "*";
  const refuse = (why: string): Error => set.errorAt(rulePath(index, "match", "service"), `rule ${rule.name}: ${why}`);
  if ("exact" in m) {
    if (m.exact.startsWith("*") || m.exact.endsWith("*")) {
      throw refuse(`dubbo_proxy reads a leading or trailing * in an interface as a wildcard, so exact ${JSON.stringify(m.exact)} cannot be said; use glob`);
    }
    return m.exact;
  }
  if ("prefix" in m) {
    if (m.prefix.includes("*")) throw refuse(`prefix ${JSON.stringify(m.prefix)} holds a *; use glob for wildcards`);
    return `${m.prefix}*`;
  }
  const stars = m.glob.split("*").length - 1;
  if (m.glob === "*" || (stars === 1 && (m.glob.startsWith("*") || m.glob.endsWith("*")))) return m.glob;
  throw refuse(
    `dubbo_proxy matches an interface exactly, by one leading or trailing * or by *, so glob ${JSON.stringify(m.glob)} cannot be said there; ` +
      `split the rule into rules with prefix or one-* globs, or route per connection`,
  );
}

/** `method.name` as Envoy's StringMatcher: exact, else a full-match RE2 regex; no method = any non-empty name. */
function methodMatcher(m: NameMatch | undefined): Record<string, unknown> {
  // route_matcher.cc MethodRouteEntryImpl::matches refuses an empty method name before matching.
  if (m === undefined) return { safe_regex: { regex: ".+" } };
  if ("exact" in m) return { exact: m.exact };
  return { safe_regex: { regex: nameMatchRegex(m) } };
}

/**
 * Renders the rule set as a dubbo_proxy MultipleRouteConfiguration, validated against Envoy's
 * protos. Refuses (throws InputFileError with file and line) what dubbo_proxy cannot express;
 * warns about what only the wasm filter enforces.
 */
export function dubboRouteConfiguration(set: LoadedRuleSet): NativeRender<Record<string, unknown>> {
  const warnings: string[] = [];
  const configs: { key: string; interface: string; group?: string; version?: string; routes: unknown[] }[] = [];
  set.ruleSet.spec.rules.forEach((rule, i) => {
    warnings.push(...wasmOnlyWarnings(set, rule, i, "dubbo_proxy"));
    if (rule.route === undefined) return;
    const iface = dubboInterface(set, rule, i);
    const group = rule.match?.group;
    const version = rule.match?.version;
    const key = JSON.stringify([iface, group ?? "", version ?? ""]);
    let current = configs[configs.length - 1];
    if (current === undefined || current.key !== key) {
      current = { key, interface: iface, group, version, routes: [] };
      configs.push(current);
    }
    const headers = (rule.match?.headers ?? []).map(headerMatcher);
    current.routes.push({
      match: { headers: headers.length === 0 ? undefined : headers, method: { name: methodMatcher(rule.match?.method) } },
      route: routeAction(rule.route),
    });
  });
  if (configs.length === 0) {
    throw set.errorAt(["spec", "rules"], "no rule has a route, so dubbo_proxy would answer every call with ServiceNotFound; add a rule with route");
  }
  const name = set.ruleSet.metadata.name;
  const config = {
    name,
    route_config: configs.map((c, k) => ({
      group: c.group,
      interface: c.interface,
      name: configs.length === 1 ? name : `${name}-${k}`,
      routes: c.routes,
      version: c.version,
    })),
  };
  assertValidEnvoy(config, { typeName: DUBBO_ROUTE_TYPE });
  return { config, warnings };
}
