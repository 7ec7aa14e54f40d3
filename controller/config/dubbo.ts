/**
 * The dubbo filter's plugin configuration schema: the same fields, rules and limits as the
 * filter's parser (assembly/filters/dubbo/config.ts). Rules are the rule model's own schema
 * (controller/rules/schema.ts), every field of it: service (the interface), method, version,
 * group, headers (attachments), route, policy, fault.abort and fault.delay.
 */
import { z } from "zod";
import { ruleSetSchema } from "../rules/schema.js";
import { telemetrySectionSchema } from "./http-telemetry.js";
import { WHOLE, checkByteSize, checkDurationMs, checkOneOf, checkStatPrefix, field, optionalField } from "./fields.js";

/** Top-level fields in the order the filter lists them in "unknown field" errors. */
export const DUBBO_FIELDS = ["stat_prefix", "routing", "decode_timeout_ms", "max_body_bytes", "seed", "rules", "telemetry"] as const;
export const DUBBO_ROUTINGS = ["connection", "request"] as const;
/** The filter's defaults and limits (assembly/filters/dubbo/config.ts). */
export const DUBBO_DEFAULT_DECODE_TIMEOUT_MS = 5000;
export const DUBBO_MAX_DECODE_TIMEOUT_MS = 600_000;
export const DUBBO_DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * Envoy's dubbo_proxy refuses a body above 16 MiB (dubbo_protocol_impl.cc MaxBodySize), so a larger
 * limit would only let the filter buffer what the per-request proxy drops.
 */
export const DUBBO_MAX_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const DUBBO_MAX_RULES = 256;

const rulesSchema = ruleSetSchema.shape.spec.shape.rules;

function checkRules(v: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  if (!Array.isArray(v)) {
    ctx.addIssue({ code: "custom", message: `must be an array of rules, found ${JSON.stringify(v)}` });
    return;
  }
  if (v.length > DUBBO_MAX_RULES) ctx.addIssue({ code: "custom", message: `must hold at most ${DUBBO_MAX_RULES} rules` });
  if (v.length === 0) return;
  const rules = rulesSchema.safeParse(v);
  if (!rules.success) {
    for (const issue of rules.error.issues) ctx.addIssue({ code: "custom", path: issue.path as PropertyKey[], message: issue.message });
    return;
  }
  rules.data.forEach((rule, i) => {
    if (rule.route === undefined && rule.policy?.deny !== true) {
      ctx.addIssue({ code: "custom", path: [i], params: WHOLE, message: `"rules[${i}].route" is required unless policy.deny is true` });
    }
  });
}

export const dubboSchema = z.strictObject({
  stat_prefix: optionalField(checkStatPrefix),
  routing: optionalField(checkOneOf(DUBBO_ROUTINGS)),
  decode_timeout_ms: optionalField(checkDurationMs(1, DUBBO_MAX_DECODE_TIMEOUT_MS)),
  max_body_bytes: optionalField(checkByteSize(1, DUBBO_MAX_MAX_BODY_BYTES)),
  seed: optionalField((v) => (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2147483647 ? null : `must be a seed, an integer 0..2147483647, found ${JSON.stringify(v)}`)),
  rules: field(() => null).superRefine(checkRules).optional(),
  telemetry: telemetrySectionSchema.optional(),
});

export function dubboKnownFields(): readonly string[] {
  return DUBBO_FIELDS;
}
