/**
 * The dubbo wasm filter's plugin configuration (assembly/filters/dubbo/config.ts) rendered from a
 * rule set: the rules in the rule model's own JSON form, plus the deployment, limits and seed.
 * Checked against the filter's schema (controller/config/dubbo.ts) before it is returned, so what
 * renders is what the filter accepts. Istio renders (EnvoyFilter / WasmPlugin) call this too.
 */
import { assertConfiguration } from "../config/index.js";
import type { LoadedRuleSet } from "../rules/load.js";
import type { Rule } from "../rules/schema.js";

export interface DubboWasmConfigProps {
  readonly rules: LoadedRuleSet;
  /**
   * "connection": the filter picks each connection's cluster for tcp_proxy from its first
   * request; "request": it sits in front of dubbo_proxy, which routes every request.
   * @default "connection"
   */
  readonly routing?: "connection" | "request";
  /** How long a connection is held for its first request's header and names. @default 5000 (the filter's) */
  readonly decodeTimeoutMs?: number;
  /** Largest request body the filter decodes; larger frames pass untouched. @default 8388608 (the filter's) */
  readonly maxBodyBytes?: number;
  /** Weighted picks and fault percentages from this seed (tests); absent = seeded from the clock. @default none */
  readonly seed?: number;
  /** Prefix of the filter's own counters. @default the rule set's metadata.name with characters outside [A-Za-z0-9_.] as '_' */
  readonly statPrefix?: string;
  /**
   * The telemetry engine's handlers and rules (`telemetry`: the same schema as http-telemetry's
   * `handlers` / `rules`, controller/config/http-telemetry.ts). @default the filter's: one
   * prometheus handler fed every call
   */
  readonly telemetry?: Readonly<Record<string, unknown>>;
}

/** A rule as the filter reads it: the rule model's fields in a stable key order, absent ones left out. */
function filterRule(rule: Rule): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: rule.name, match: rule.match, route: rule.route, policy: rule.policy, fault: rule.fault };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** The filter's configuration object (serialize with JSON.stringify for Envoy's `configuration`). */
export function dubboWasmConfiguration(props: DubboWasmConfigProps): Record<string, unknown> {
  const config: Record<string, unknown> = {
    decode_timeout_ms: props.decodeTimeoutMs,
    max_body_bytes: props.maxBodyBytes,
    routing: props.routing,
    rules: props.rules.ruleSet.spec.rules.map(filterRule),
    seed: props.seed,
    stat_prefix: props.statPrefix ?? props.rules.ruleSet.metadata.name.replace(/[^A-Za-z0-9_.]/g, "_"),
    telemetry: props.telemetry,
  };
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  assertConfiguration("dubbo", config);
  return config;
}
