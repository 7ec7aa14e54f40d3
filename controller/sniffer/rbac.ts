/**
 * The workload's AuthorizationPolicies as Envoy network RBAC filters
 * (`envoy.filters.network.rbac`, envoy.extensions.filters.network.rbac.v3.RBAC) for the sniffer's
 * bypass chain.
 *
 * Why: Istio puts `istio.metadata_exchange`, CUSTOM ext_authz and network RBAC before tcp_proxy on
 * every TCP chain it builds (istio/istio release-1.29 pilot/pkg/networking/core/networkfilter.go,
 * buildCompleteNetworkFilters). The chain bypass adds is not built by istiod, so without these
 * filters a client refused on the port's HTTP chain could reach the workload by sending non-HTTP.
 *
 * The translation copies istiod's for TCP chains (pilot/pkg/security/authz/builder/builder.go
 * build/buildTCP, pilot/pkg/security/authz/model/model.go New/Generate, generator.go), so the
 * bypass chain enforces what Istio's own TCP chain on that port would:
 * - one filter per action, DENY first, then ALLOW (builder.go `build`: AUDIT, DENY, ALLOW); each
 *   rule is one Envoy policy named `ns[<ns>]-policy[<name>]-rule[<i>]`; a policy without rules
 *   is the policy that never matches (rbacPolicyMatchNever), so an ALLOW `spec: {}` denies all
 *   while `rules: [{}]` allows all; with any ALLOW policy a connection must match one of them.
 * - `from` → principals (one per source, OR), `to` → permissions (one per operation, OR), `when`
 *   conditions ANDed into both; values of one field OR, `notValues` under not_id/not_rule.
 * - ipBlocks and `source.ip` → `direct_remote_ip` (the peer of the TCP connection);
 *   remoteIpBlocks and `remote.ip` → `remote_ip` (which proxy_protocol may rewrite)
 *   (generator.go srcIPGenerator / remoteIPGenerator); ports and `destination.port` →
 *   `destination_port`; `destination.ip` → `destination_ip`.
 * - HTTP-only fields (hosts, methods, paths, `request.*`, requestPrincipals) fail translation on
 *   TCP (generator.go: `"%q is HTTP only"` when forTCP). For ALLOW the error drops the whole rule
 *   (it then matches nothing); for DENY only the field is dropped, so the rule denies more
 *   (model.go checkError: "effectively resulting in a wider deny").
 * - principals, namespaces and serviceAccounts are mTLS identities (`authenticated` matchers in
 *   Istio's TCP RBAC). Envoy's AuthenticatedMatcher answers false when the connection has no TLS
 *   (source/extensions/filters/common/rbac/matchers.cc, AuthenticatedMatcher::matches: `if (!ssl)
 *   return false`), and the bypass chain matches `transport_protocol: raw_buffer` only, so here
 *   they are rendered as what Envoy would compute: a positive condition never matches (Istio's
 *   `not_id: {any: true}`), a negated one always does. Likewise `connection.sni` (no SNI on
 *   plaintext: `requested_server_name` is empty, which none of Istio's matchers for a non-empty
 *   value accepts).
 * - AUDIT renders nothing: Istio's AUDIT filter (action LOG) only marks connections for access
 *   logs and never closes one, and the bypass chain has no access log. Dry-run policies
 *   (`istio.io/dry-run: "true"`) are not enforced by Istio either; they render nothing.
 * - CUSTOM is refused: Istio enforces it on TCP chains with an ext_authz network filter for its
 *   extension provider, which this controller does not render; leaving it out would let bypassed
 *   plaintext skip the external check.
 * - `experimental.envoy.filters.*` conditions (dynamic-metadata matches) are refused: on the
 *   bypass chain no filter before RBAC writes the metadata Istio's chain would hold.
 */
import type { NetworkFilter } from "../envoy/network-filter.js";
import {
  isDryRun,
  policyAction,
  type AuthorizationCondition,
  type AuthorizationPolicyDocument,
  type AuthorizationRule,
} from "../istio/authorization-policy.js";

export const RBAC_NETWORK_FILTER_NAME = "envoy.filters.network.rbac";
export const RBAC_NETWORK_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

/** envoy.config.rbac.v3.Permission / Principal in Envoy's JSON shape. */
export type RbacMatcher = Readonly<Record<string, unknown>>;

export interface RbacPolicy {
  readonly permissions: readonly RbacMatcher[];
  readonly principals: readonly RbacMatcher[];
}

const ANY: RbacMatcher = { any: true };
/** Istio's rbacPolicyMatchNever parts (builder.go). */
const NEVER_PRINCIPAL: RbacMatcher = { not_id: { any: true } };
const NEVER_PERMISSION: RbacMatcher = { not_rule: { any: true } };
const NEVER_POLICY: RbacPolicy = { permissions: [NEVER_PERMISSION], principals: [NEVER_PRINCIPAL] };

const andIds = (ids: RbacMatcher[]): RbacMatcher => ({ and_ids: { ids } });
const orIds = (ids: RbacMatcher[]): RbacMatcher => ({ or_ids: { ids } });
const andRules = (rules: RbacMatcher[]): RbacMatcher => ({ and_rules: { rules } });
const orRules = (rules: RbacMatcher[]): RbacMatcher => ({ or_rules: { rules } });

/** util.AddrStrToCidrRange: a bare address is a /32 or /128. */
function cidr(value: string): { address_prefix: string; prefix_len: number } {
  const [address, len] = value.split("/");
  return { address_prefix: address!, prefix_len: len === undefined ? (address!.includes(":") ? 128 : 32) : Number(len) };
}

/** A field Istio cannot translate for TCP (generator.go returns an error). */
class HttpOnly extends Error {}

type Side = "principal" | "permission";

/** One translatable field: what Istio's generator for `key` produces for one value. */
interface Generator {
  readonly side: Side;
  readonly one: (value: string) => RbacMatcher;
}

const GENERATORS: Readonly<Record<string, Generator>> = {
  "source.ip": { side: "principal", one: (v) => ({ direct_remote_ip: cidr(v) }) },
  "remote.ip": { side: "principal", one: (v) => ({ remote_ip: cidr(v) }) },
  // mTLS identities on a plaintext chain: Envoy's `authenticated` matcher is false without TLS.
  "source.principal": { side: "principal", one: () => NEVER_PRINCIPAL },
  "source.namespace": { side: "principal", one: () => NEVER_PRINCIPAL },
  "source.serviceAccount": { side: "principal", one: () => NEVER_PRINCIPAL },
  "destination.ip": { side: "permission", one: (v) => ({ destination_ip: cidr(v) }) },
  "destination.port": { side: "permission", one: (v) => ({ destination_port: Number(v) }) },
  // No SNI on plaintext.
  "connection.sni": { side: "permission", one: () => NEVER_PERMISSION },
};

function generator(key: string, policy: string): Generator {
  const g = GENERATORS[key];
  if (g !== undefined) return g;
  if (key.startsWith("experimental.envoy.filters.")) {
    throw new Error(
      `${policy}: condition ${key} matches dynamic metadata, which no filter writes on the bypass chain before RBAC; ` +
        "remove the condition or do not use mode bypass on this workload",
    );
  }
  // request.headers[...], request.auth.*, hosts, methods, paths: HTTP only (generator.go).
  return { side: key === "hosts" || key === "methods" || key === "paths" ? "permission" : "principal", one: () => { throw new HttpOnly(key); } };
}

/** One field of a rule (model.go `rule`): its values OR'd, its notValues OR'd under a not. */
interface Field {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/**
 * model.go rule.principal / rule.permission + checkError: for ALLOW an HTTP-only field fails the
 * rule; for DENY (and AUDIT) the field is dropped.
 */
function translateField(f: Field, action: "ALLOW" | "DENY", policy: string): RbacMatcher[] {
  const g = generator(f.key, policy);
  const out: RbacMatcher[] = [];
  const group = (list: readonly string[]): RbacMatcher[] => {
    const parts: RbacMatcher[] = [];
    for (const v of list) {
      try {
        parts.push(g.one(v));
      } catch (err) {
        if (!(err instanceof HttpOnly) || action === "ALLOW") throw err;
      }
    }
    return parts;
  };
  const pos = group(f.values);
  if (pos.length > 0) out.push(g.side === "principal" ? orIds(pos) : orRules(pos));
  const neg = group(f.notValues);
  if (neg.length > 0) out.push(g.side === "principal" ? { not_id: orIds(neg) } : { not_rule: orRules(neg) });
  return out;
}

const nonEmpty = (key: string, values?: readonly string[], notValues?: readonly string[]): Field[] =>
  (values ?? []).length > 0 || (notValues ?? []).length > 0 ? [{ key, notValues: notValues ?? [], values: values ?? [] }] : [];

/** model.go New: the rule's principal and permission field lists, in Istio's order. */
function ruleFields(rule: AuthorizationRule): { principals: Field[][]; permissions: Field[][] } {
  const basePrincipal: Field[] = [];
  const basePermission: Field[] = [];
  for (const c of rule.when ?? ([] as AuthorizationCondition[])) {
    const fields = nonEmpty(c.key, c.values, c.notValues);
    const side = GENERATORS[c.key]?.side ?? (c.key.startsWith("experimental.") ? "permission" : "principal");
    (side === "principal" ? basePrincipal : basePermission).push(...fields);
  }
  // insertFront in model.go reverses the order of the source / operation fields.
  const principals = (rule.from ?? []).map((f) => {
    const s = f.source ?? {};
    return [
      ...nonEmpty("source.principal", s.principals, s.notPrincipals),
      ...nonEmpty("request.auth.principal", s.requestPrincipals, s.notRequestPrincipals),
      ...nonEmpty("source.serviceAccount", s.serviceAccounts, s.notServiceAccounts),
      ...nonEmpty("source.namespace", s.namespaces, s.notNamespaces),
      ...nonEmpty("remote.ip", s.remoteIpBlocks, s.notRemoteIpBlocks),
      ...nonEmpty("source.ip", s.ipBlocks, s.notIpBlocks),
      ...basePrincipal,
    ];
  });
  const permissions = (rule.to ?? []).map((t) => {
    const o = t.operation ?? {};
    return [
      ...nonEmpty("hosts", o.hosts, o.notHosts),
      ...nonEmpty("methods", o.methods, o.notMethods),
      ...nonEmpty("paths", o.paths, o.notPaths),
      ...nonEmpty("destination.port", o.ports, o.notPorts),
      ...basePermission,
    ];
  });
  return {
    permissions: permissions.length > 0 ? permissions : [basePermission],
    principals: principals.length > 0 ? principals : [basePrincipal],
  };
}

/** model.go Generate for TCP: undefined when the rule cannot be translated (ALLOW with an HTTP-only field). */
function generateRule(rule: AuthorizationRule, action: "ALLOW" | "DENY", policy: string): RbacPolicy | undefined {
  const { principals, permissions } = ruleFields(rule);
  try {
    const and = (fields: Field[], side: Side): RbacMatcher => {
      const parts = fields.flatMap((f) => translateField(f, action, policy));
      if (parts.length === 0) parts.push(ANY);
      return side === "principal" ? andIds(parts) : andRules(parts);
    };
    return {
      permissions: permissions.map((fields) => and(fields, "permission")),
      principals: principals.map((fields) => and(fields, "principal")),
    };
  } catch (err) {
    if (err instanceof HttpOnly) return undefined;
    throw err;
  }
}

/** builder.go policyName. */
export function rbacPolicyName(namespace: string, name: string, rule: number): string {
  return `ns[${namespace}]-policy[${name}]-rule[${rule}]`;
}

export interface BypassRbacProps {
  /** Policies attached to the workload (controller/istio/authorization-policy.ts selectPolicies). */
  readonly policies: readonly AuthorizationPolicyDocument[];
  /** Namespace for policies whose document names none. */
  readonly defaultNamespace?: string;
  /**
   * Stat prefix; each filter adds `deny.` / `allow.`, so Envoy counts
   * `<prefix>deny.rbac.denied`, `<prefix>allow.rbac.allowed`, … (statPrefixJoin in
   * source/extensions/filters/common/rbac/utility.cc generateStats).
   */
  readonly statPrefix: string;
}

/** The envoy.config.rbac.v3.RBAC of one action. */
export function rbacRules(policies: readonly AuthorizationPolicyDocument[], action: "ALLOW" | "DENY", defaultNamespace = "default"): Record<string, unknown> {
  const out: Record<string, RbacPolicy> = {};
  for (const p of policies) {
    const ns = p.namespace ?? defaultNamespace;
    const where = `${p.origin}: AuthorizationPolicy ${ns}/${p.name}`;
    const rules = p.spec.rules ?? [];
    rules.forEach((rule, i) => {
      if (rule === null) return; // builder.go: "skipped nil rule"
      const generated = generateRule(rule, action, where);
      if (generated !== undefined) out[rbacPolicyName(ns, p.name, i)] = generated;
    });
    if (rules.length === 0) out[rbacPolicyName(ns, p.name, 0)] = NEVER_POLICY;
  }
  return { action, policies: out };
}

/**
 * The RBAC network filters for the bypass chain, in order (DENY, then ALLOW); empty when no
 * ALLOW or DENY policy is enforced. Throws for CUSTOM policies.
 */
export function bypassRbacFilters(props: BypassRbacProps): NetworkFilter[] {
  const enforced = props.policies.filter((p) => !isDryRun(p));
  const custom = enforced.filter((p) => policyAction(p) === "CUSTOM");
  if (custom.length > 0) {
    const p = custom[0]!;
    throw new Error(
      `${p.origin}: AuthorizationPolicy ${p.namespace ?? props.defaultNamespace ?? "default"}/${p.name} has action CUSTOM ` +
        `(provider ${JSON.stringify(p.spec.provider?.name)}): Istio enforces it on TCP chains with an ext_authz filter when the ` +
        "provider is envoyExtAuthzGrpc (builder.go buildTCP), which the bypass chain does not carry, and the provider's kind is " +
        "in meshConfig, not in the policy; so bypassed plaintext could skip the external check. Do not use mode bypass on this " +
        "workload, or scope the CUSTOM policy away from it",
    );
  }
  const filters: NetworkFilter[] = [];
  for (const action of ["DENY", "ALLOW"] as const) {
    const ofAction = enforced.filter((p) => policyAction(p) === action);
    if (ofAction.length === 0) continue;
    filters.push({
      name: RBAC_NETWORK_FILTER_NAME,
      typed_config: {
        "@type": RBAC_NETWORK_TYPE_URL,
        rules: rbacRules(ofAction, action, props.defaultNamespace),
        stat_prefix: `${props.statPrefix}${action.toLowerCase()}.`,
      },
    });
  }
  return filters;
}
