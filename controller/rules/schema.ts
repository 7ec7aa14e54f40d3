/**
 * The RPC rule set: one CRD-style document of ordered rules shared by Dubbo and Thrift, and by
 * both deployments (the wasm filter per connection, Envoy's native dubbo_proxy / thrift_proxy per
 * request). controller/rules/README.md is the reference; this file is its schema.
 *
 *   apiVersion: protomesh.io/v1alpha1
 *   kind: RpcRouteRules
 *   metadata: { name: orders }
 *   spec:
 *     rules:
 *       - name: orders-canary
 *         match: { service: { exact: com.acme.OrderService }, headers: [{ name: x-canary, present: true }] }
 *         route: { weightedClusters: [{ name: orders-v2, weight: 90 }, { name: orders-v1, weight: 10 }] }
 *
 * Rules are tried in order; the first whose every match field holds decides.
 */
import { z } from "zod";

export const RULES_API_VERSION = "protomesh.io/v1alpha1";
export const RULES_KIND = "RpcRouteRules";

/**
 * A name matcher. `prefix` and `glob` never match the empty remainder: `prefix: com.acme.` does not
 * match `com.acme.` itself and `*` stands for one or more characters, which is what Envoy's
 * dubbo_proxy interface wildcard does (source/extensions/filters/network/dubbo_proxy/router/
 * route_matcher.cc, InterfaceMatcher), so both deployments agree.
 */
export type NameMatch =
  | { readonly exact: string }
  | { readonly prefix: string }
  | { readonly glob: string };

/** A Dubbo attachment or a THeader header. Names compare case-insensitively (Envoy keeps them in an HTTP header map). */
export type HeaderMatch =
  | { readonly name: string; readonly exact: string }
  | { readonly name: string; readonly prefix: string }
  | { readonly name: string; readonly present: true };

export interface RuleMatch {
  /** Dubbo interface (service path); Thrift multiplexed service name (before `:`). @default any */
  readonly service?: NameMatch;
  /**
   * Method name. Thrift: the part after `Service:` when `service` is set, else the whole message
   * name as sent (what thrift_proxy's `method_name` compares). @default any
   */
  readonly method?: NameMatch;
  /** Dubbo service version, exact (Dubbo only). @default any */
  readonly version?: string;
  /** Dubbo service group (attachment `group`), exact (Dubbo only). @default any */
  readonly group?: string;
  /** Every entry must hold (Dubbo attachments, Thrift THeader headers). @default [] */
  readonly headers?: readonly HeaderMatch[];
}

export interface WeightedCluster {
  readonly name: string;
  /** Relative weight, an integer >= 1. */
  readonly weight: number;
}

/** Exactly one of `cluster` and `weightedClusters`. */
export type RuleRoute =
  | { readonly cluster: string }
  | { readonly weightedClusters: readonly WeightedCluster[] };

export interface RulePolicy {
  /** Refuse matching calls with an RPC error carrying `message`. @default false */
  readonly deny?: boolean;
  /** @default "denied by protomesh rule <rule name>" */
  readonly message?: string;
  /** Token bucket shared by the proxy's workers: `tokens` calls per `interval`. @default none */
  readonly rateLimit?: { readonly tokens: number; readonly interval: string };
}

export interface RuleFault {
  /** Hold matching calls this long (a duration such as "250ms", "1s") for `percent` of them. */
  readonly delay?: { readonly duration: string; readonly percent?: number };
  /** Answer matching calls with an RPC error carrying `message` for `percent` of them. */
  readonly abort?: { readonly message: string; readonly percent?: number };
}

export interface Rule {
  /** Unique within the rule set; names the rule in warnings, logs and metrics. */
  readonly name: string;
  /** @default {} (matches every call) */
  readonly match?: RuleMatch;
  /** Where matching calls go. Required unless `policy.deny` is true. */
  readonly route?: RuleRoute;
  /** Enforced by the protomesh wasm filter. @default none */
  readonly policy?: RulePolicy;
  /** Enforced by the protomesh wasm filter. @default none */
  readonly fault?: RuleFault;
}

export interface RuleSet {
  readonly apiVersion: typeof RULES_API_VERSION;
  readonly kind: typeof RULES_KIND;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: { readonly rules: readonly Rule[] };
}

/** Durations as the rule set writes them: an integer with ms, s or m. */
export const DURATION = /^([1-9]\d{0,8}|0)(ms|s|m)$/;

/** Milliseconds of a DURATION string. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (m === null) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

const nonEmpty = (what: string) => z.string({ error: `${what} must be a string` }).min(1, { error: `${what} must not be empty` });

const nameMatch = z.union([
  z.strictObject({ exact: nonEmpty("exact") }),
  z.strictObject({ prefix: nonEmpty("prefix") }),
  z.strictObject({ glob: nonEmpty("glob") }),
], { error: "must be one of { exact: <name> }, { prefix: <name> } or { glob: <pattern with *> }" });

const headerName = nonEmpty("header name").regex(/^[A-Za-z0-9._:-]+$/, { error: "header name may hold letters, digits and . _ : - only" });
const headerMatch = z.union([
  z.strictObject({ name: headerName, exact: z.string() }),
  z.strictObject({ name: headerName, prefix: nonEmpty("prefix") }),
  z.strictObject({ name: headerName, present: z.literal(true) }),
], { error: "a header match is { name, exact: <value> }, { name, prefix: <value> } or { name, present: true }" });

const percent = z.number().min(0, { error: "percent must be in [0, 100]" }).max(100, { error: "percent must be in [0, 100]" });
const duration = z.string().regex(DURATION, { error: "must be a duration such as 250ms, 1s or 2m" });
const clusterName = nonEmpty("cluster name");

const rule = z.strictObject({
  name: nonEmpty("name").regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, { error: "name must be lower-case letters, digits, '.' and '-' (a Kubernetes name)" }),
  match: z.strictObject({
    service: nameMatch.optional(),
    method: nameMatch.optional(),
    version: nonEmpty("version").optional(),
    group: nonEmpty("group").optional(),
    headers: z.array(headerMatch).optional(),
  }).optional(),
  route: z.union([
    z.strictObject({ cluster: clusterName }),
    z.strictObject({
      weightedClusters: z.array(z.strictObject({
        name: clusterName,
        weight: z.number().int({ error: "weight must be an integer" }).min(1, { error: "weight must be >= 1" }).max(1_000_000, { error: "weight must be <= 1000000" }),
      })).min(1, { error: "weightedClusters needs at least one cluster" }),
    }),
  ], { error: "route is { cluster: <name> } or { weightedClusters: [{ name, weight }, ...] }" }).optional(),
  policy: z.strictObject({
    deny: z.boolean().optional(),
    message: nonEmpty("message").optional(),
    rateLimit: z.strictObject({
      tokens: z.number().int().min(1, { error: "tokens must be an integer >= 1" }),
      interval: duration,
    }).optional(),
  }).optional(),
  fault: z.strictObject({
    delay: z.strictObject({ duration, percent: percent.optional() }).optional(),
    abort: z.strictObject({ message: nonEmpty("message"), percent: percent.optional() }).optional(),
  }).optional(),
});

export const ruleSetSchema = z.strictObject({
  apiVersion: z.literal(RULES_API_VERSION, { error: `apiVersion must be ${RULES_API_VERSION}` }),
  kind: z.literal(RULES_KIND, { error: `kind must be ${RULES_KIND}` }),
  metadata: z.strictObject({ name: nonEmpty("metadata.name"), namespace: nonEmpty("metadata.namespace").optional() }),
  spec: z.strictObject({ rules: z.array(rule).min(1, { error: "spec.rules needs at least one rule" }) }),
});
