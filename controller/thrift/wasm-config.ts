/**
 * The thrift wasm filter's plugin configuration (assembly/filters/thrift/config.ts) rendered from a
 * rule set: the rules in the rule model's own JSON form, plus the wire format and timeout. Checked
 * against the filter's schema (controller/config/thrift.ts) before it is returned, so what renders
 * is what the filter accepts.
 */
import { assertConfiguration } from "../config/index.js";
import type { LoadedRuleSet } from "../rules/load.js";
import type { Rule } from "../rules/schema.js";

export type ThriftWasmTransport = "auto" | "framed" | "unframed" | "header";
export type ThriftWasmProtocol = "auto" | "binary" | "compact" | "lax_binary";

export interface ThriftWasmConfigProps {
  readonly rules: LoadedRuleSet;
  /**
   * "connection": the filter picks each connection's cluster for tcp_proxy; "request": it sits in
   * front of thrift_proxy, which routes every call.
   * @default "connection"
   */
  readonly routing?: "connection" | "request";
  /** @default "auto" (framed, header or unframed from the first frame) */
  readonly transport?: ThriftWasmTransport;
  /** @default "auto" (binary or compact; lax binary only when said) */
  readonly protocol?: ThriftWasmProtocol;
  /** How long a connection is held for its first call's message begin. @default 5000 (the filter's) */
  readonly decodeTimeoutMs?: number;
  /** Weighted picks from this seed (tests); absent = seeded from the clock. @default none */
  readonly seed?: number;
  /** Prefix of the filter's own counters. @default the rule set's metadata.name with '-' as '_' */
  readonly statPrefix?: string;
  /**
   * The telemetry engine's handlers and rules (`telemetry`: the same schema as http-telemetry's
   * `handlers` / `rules`, controller/config/http-telemetry.ts). @default the filter's: one
   * prometheus handler fed every call
   */
  readonly telemetry?: Readonly<Record<string, unknown>>;
}

/** The rule as the filter reads it: the rule model's fields, in a stable key order. */
function wasmRule(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = { name: rule.name };
  if (rule.match !== undefined) out.match = rule.match;
  if (rule.route !== undefined) out.route = rule.route;
  if (rule.policy !== undefined) out.policy = rule.policy;
  if (rule.fault !== undefined) out.fault = rule.fault;
  return out;
}

export function thriftWasmConfiguration(props: ThriftWasmConfigProps): Record<string, unknown> {
  const config: Record<string, unknown> = {
    decode_timeout_ms: props.decodeTimeoutMs,
    protocol: props.protocol,
    routing: props.routing,
    rules: props.rules.ruleSet.spec.rules.map(wasmRule),
    seed: props.seed,
    stat_prefix: props.statPrefix ?? props.rules.ruleSet.metadata.name.replace(/[^A-Za-z0-9_.]/g, "_"),
    telemetry: props.telemetry,
    transport: props.transport,
  };
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  assertConfiguration("thrift", config);
  return config;
}
