/**
 * The rule set as Envoy's native `thrift_proxy` route table
 * (`envoy.extensions.filters.network.thrift_proxy.v3.RouteConfiguration`).
 *
 * Envoy's shape (api/envoy/extensions/filters/network/thrift_proxy/v3/route.proto; matching in
 * source/extensions/filters/network/thrift_proxy/router/router_impl.cc RouteMatcher and the
 * MethodNameRouteEntryImpl / ServiceNameRouteEntryImpl entries):
 * - a route matches exactly one of `method_name` (equal to the message name as sent; "" matches
 *   every call) or `service_name` (the message name starts with `<service>:`; a trailing ":" is
 *   added when missing), then every `headers` entry (THeader headers), optionally `invert`ed;
 * - actions: `cluster`, `weighted_clusters` or `cluster_header`; routes are tried in order.
 *
 * Mapping: service + method → `method_name: "Service:method"`; service alone → `service_name`;
 * method alone → `method_name`; neither → `method_name: ""`. Names match exactly only: a prefix or
 * glob on service or method, and Dubbo's version and group, are refused.
 */
import { assertValidEnvoy } from "../envoy/validate.js";
import type { LoadedRuleSet } from "../rules/load.js";
import { headerMatcher, routeAction, rulePath, wasmOnlyWarnings, type NativeRender } from "../rules/native.js";
import type { NameMatch, Rule } from "../rules/schema.js";

export const THRIFT_ROUTE_TYPE = "envoy.extensions.filters.network.thrift_proxy.v3.RouteConfiguration";

function exactName(set: LoadedRuleSet, rule: Rule, index: number, field: "service" | "method", m: NameMatch | undefined): string | undefined {
  if (m === undefined) return undefined;
  if ("exact" in m) {
    if (field === "service" && m.exact.includes(":")) {
      throw set.errorAt(rulePath(index, "match", "service"), `rule ${rule.name}: a Thrift service name cannot hold ':' (it separates service and method)`);
    }
    return m.exact;
  }
  const kind = "prefix" in m ? "prefix" : "glob";
  throw set.errorAt(
    rulePath(index, "match", field, kind),
    `rule ${rule.name}: thrift_proxy matches ${field === "service" ? "service_name" : "method_name"} exactly, so a ${kind} cannot be said there; ` +
      `list the names as separate rules with exact, or route per connection`,
  );
}

function routeMatch(set: LoadedRuleSet, rule: Rule, index: number): Record<string, unknown> {
  for (const field of ["version", "group"] as const) {
    if (rule.match?.[field] !== undefined) {
      throw set.errorAt(rulePath(index, "match", field), `rule ${rule.name}: ${field} is a Dubbo match; Thrift calls carry none, remove it from this rule set`);
    }
  }
  const service = exactName(set, rule, index, "service", rule.match?.service);
  const method = exactName(set, rule, index, "method", rule.match?.method);
  const headers = (rule.match?.headers ?? []).map(headerMatcher);
  const base = { headers: headers.length === 0 ? undefined : headers };
  if (service !== undefined && method !== undefined) return { ...base, method_name: `${service}:${method}` };
  if (service !== undefined) return { ...base, service_name: service };
  return { ...base, method_name: method ?? "" };
}

/**
 * Renders the rule set as a thrift_proxy RouteConfiguration, validated against Envoy's protos.
 * Refuses (InputFileError with file and line) what thrift_proxy cannot express; warns about what
 * only the wasm filter enforces.
 */
export function thriftRouteConfiguration(set: LoadedRuleSet): NativeRender<Record<string, unknown>> {
  const warnings: string[] = [];
  const routes: unknown[] = [];
  set.ruleSet.spec.rules.forEach((rule, i) => {
    warnings.push(...wasmOnlyWarnings(set, rule, i, "thrift_proxy"));
    if (rule.route === undefined) return;
    routes.push({ match: routeMatch(set, rule, i), route: routeAction(rule.route) });
  });
  if (routes.length === 0) {
    throw set.errorAt(["spec", "rules"], "no rule has a route, so thrift_proxy would answer every call with UnknownMethod; add a rule with route");
  }
  const config = { name: set.ruleSet.metadata.name, routes };
  assertValidEnvoy(config, { typeName: THRIFT_ROUTE_TYPE });
  return { config, warnings };
}
