/**
 * The sniffer's plugin configuration schema: the same fields, rules and words as the filter's
 * parser (assembly/filters/sniffer/config.ts), with its defaults and limits read from the one
 * copy both share (assembly/filters/sniffer/facts.ts, protocol names from
 * assembly/codecs/detect/protocols.ts). Mode pairing (which fields a rendered mode allows) lives
 * with the renderer in controller/sniffer/config.ts.
 */
import { z } from "zod";
import { PROTOCOL_NAMES } from "../../assembly/codecs/detect/protocols.js";
import * as facts from "../../assembly/filters/sniffer/facts.js";
import {
  WHOLE, checkArray, checkByteSize, checkCidr, checkClusterName, checkDurationMs, checkObject, checkOneOf, checkPortRange,
  checkStatPrefix, optionalField, type FieldCheck,
} from "./fields.js";

/** Top-level fields in the order the filter lists them in "unknown field" errors. */
export const SNIFFER_FIELDS = [
  "mode", "max_detect_bytes", "max_tls_bytes", "detect_timeout_ms", "stat_prefix", "routes", "default_route",
  "passthrough_cluster", "allowed_destinations",
] as const;

const DESTINATION_FIELDS = ["cidr", "ports"] as const;

type Ctx = z.core.$RefinementCtx<unknown>;

function report(ctx: Ctx, path: PropertyKey[], why: string | null): boolean {
  if (why === null) return true;
  ctx.addIssue({ code: "custom", path, message: why });
  return false;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** `routes`: protocol name → cluster name, "passthrough" or "deny". */
function checkRoutes(v: unknown, ctx: Ctx): void {
  if (!report(ctx, [], checkObject("mapping protocol names to targets")(v)) || !isObject(v)) return;
  for (const [key, target] of Object.entries(v)) {
    if (!PROTOCOL_NAMES.includes(key)) {
      ctx.addIssue({ code: "custom", path: [], params: WHOLE, message: `unknown protocol ${JSON.stringify(key)} in "routes" (known: ${PROTOCOL_NAMES.join(", ")})` });
      return;
    }
    if (!report(ctx, [key], checkClusterName(target))) return;
  }
}

/** `allowed_destinations`: [{cidr, ports?}], checked in the filter's order. */
function checkDestinations(v: unknown, ctx: Ctx): void {
  if (!report(ctx, [], checkArray('{"cidr", "ports"} objects')(v)) || !Array.isArray(v)) return;
  v.forEach((item: unknown, i) => {
    if (!report(ctx, [i], checkObject('with "cidr" and optional "ports"')(item)) || !isObject(item)) return;
    for (const [key, val] of Object.entries(item)) {
      if (key === "ports") {
        if (!report(ctx, [i, "ports"], checkArray('ports or "lo-hi" ranges')(val)) || !Array.isArray(val)) return;
        for (let j = 0; j < val.length; j++) if (!report(ctx, [i, "ports", j], checkPortRange(val[j]))) return;
      } else if (key !== "cidr") {
        ctx.addIssue({ code: "custom", path: [], params: WHOLE, message: `unknown field "allowed_destinations[${i}].${key}" (known: ${DESTINATION_FIELDS.join(", ")})` });
        return;
      }
    }
    if (item["cidr"] === undefined) report(ctx, [i, "cidr"], "is required");
    else report(ctx, [i, "cidr"], checkCidr(item["cidr"]));
  });
}

const custom = (check: (v: unknown, ctx: Ctx) => void): z.ZodType<unknown> => z.any().superRefine(check).optional();
const byteSize: FieldCheck = checkByteSize(1, facts.MAX_BYTES_LIMIT);

export const snifferSchema = z.strictObject({
  mode: optionalField(checkOneOf(facts.MODE_NAMES)),
  max_detect_bytes: optionalField(byteSize),
  max_tls_bytes: optionalField(byteSize),
  detect_timeout_ms: optionalField(checkDurationMs(0, facts.MAX_TIMEOUT_MS)),
  stat_prefix: optionalField(checkStatPrefix),
  routes: custom(checkRoutes),
  default_route: optionalField(checkClusterName),
  passthrough_cluster: optionalField(checkClusterName),
  allowed_destinations: custom(checkDestinations),
});

/** Known members at a path, for "unknown field" errors. */
export function snifferKnownFields(path: readonly PropertyKey[]): readonly string[] {
  return path.length === 0 ? SNIFFER_FIELDS : DESTINATION_FIELDS;
}
