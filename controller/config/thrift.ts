/**
 * The thrift filter's plugin configuration schema: the same fields, rules and limits as the
 * filter's parser (assembly/filters/thrift/config.ts). Rules are the rule model's own schema
 * (controller/rules/schema.ts), less what the filter refuses: Dubbo's version and group.
 */
import { z } from "zod";
import { ruleSetSchema } from "../rules/schema.js";
import { telemetrySectionSchema } from "./http-telemetry.js";
import { WHOLE, checkDurationMs, checkOneOf, checkStatPrefix, field, optionalField } from "./fields.js";

/** Top-level fields in the order the filter lists them in "unknown field" errors. */
export const THRIFT_FIELDS = ["stat_prefix", "routing", "transport", "protocol", "decode_timeout_ms", "seed", "rules", "telemetry"] as const;
export const THRIFT_ROUTINGS = ["connection", "request"] as const;
export const THRIFT_WASM_TRANSPORTS = ["auto", "framed", "unframed", "header"] as const;
export const THRIFT_WASM_PROTOCOLS = ["auto", "binary", "compact", "lax_binary"] as const;
/** The filter's defaults and limits (assembly/filters/thrift/config.ts). */
export const THRIFT_DEFAULT_DECODE_TIMEOUT_MS = 5000;
export const THRIFT_MAX_DECODE_TIMEOUT_MS = 600_000;
export const THRIFT_MAX_RULES = 256;

const rulesSchema = ruleSetSchema.shape.spec.shape.rules;

function checkRules(v: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  if (!Array.isArray(v)) {
    ctx.addIssue({ code: "custom", message: `must be an array of rules, found ${JSON.stringify(v)}` });
    return;
  }
  if (v.length > THRIFT_MAX_RULES) ctx.addIssue({ code: "custom", message: `must hold at most ${THRIFT_MAX_RULES} rules` });
  const parsed = z.array(z.any()).min(0).safeParse(v);
  if (!parsed.success) return;
  const rules = rulesSchema.safeParse(v.length === 0 ? [{ name: "x", policy: { deny: true } }] : v);
  if (!rules.success) {
    for (const issue of rules.error.issues) ctx.addIssue({ code: "custom", path: issue.path as PropertyKey[], message: issue.message });
    return;
  }
  v.forEach((rule: Record<string, unknown>, i: number) => {
    const match = (rule.match ?? {}) as Record<string, unknown>;
    for (const dubbo of ["version", "group"]) {
      if (match[dubbo] !== undefined) ctx.addIssue({ code: "custom", path: [i, "match", dubbo], params: WHOLE, message: `unknown field "rules[${i}].match.${dubbo}" (known: service, method, headers (version and group are Dubbo only))` });
    }
    if (rule.route === undefined && (rule.policy as { deny?: boolean } | undefined)?.deny !== true) {
      ctx.addIssue({ code: "custom", path: [i], params: WHOLE, message: `"rules[${i}].route" is required unless policy.deny is true` });
    }
  });
}

export const thriftSchema = z.strictObject({
  stat_prefix: optionalField(checkStatPrefix),
  routing: optionalField(checkOneOf(THRIFT_ROUTINGS)),
  transport: optionalField(checkOneOf(THRIFT_WASM_TRANSPORTS)),
  protocol: optionalField(checkOneOf(THRIFT_WASM_PROTOCOLS)),
  decode_timeout_ms: optionalField(checkDurationMs(1, THRIFT_MAX_DECODE_TIMEOUT_MS)),
  seed: optionalField((v) => (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2147483647 ? null : `must be a seed, an integer 0..2147483647, found ${JSON.stringify(v)}`)),
  rules: field(() => null).superRefine(checkRules).optional(),
  telemetry: telemetrySectionSchema.optional(),
});

export function thriftKnownFields(): readonly string[] {
  return THRIFT_FIELDS;
}
