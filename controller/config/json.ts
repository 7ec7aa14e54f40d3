/**
 * The limits the filters' JSON reader holds every configuration to (assembly/runtime/json/index.ts
 * LIMITS), checked on the controller's side with the same words. The filters add "at byte <n>";
 * a configuration built as an object has no bytes to point at, so the controller names the field.
 */
import { fieldPath } from "./fields.js";

export const LIMITS = {
  /** Bytes in one configuration. */
  configBytes: 1048576,
  /** Items in one array, members in one object. */
  entries: 100000,
  /** UTF-8 bytes in one string (key or value). */
  stringBytes: 4096,
  /** Arrays and objects inside one another. */
  depth: 64,
} as const;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Problems with the limits in a parsed configuration (empty when within them). */
export function checkLimits(value: unknown): string[] {
  const out: string[] = [];
  const at = (path: readonly PropertyKey[]): string => (path.length === 0 ? "" : ` in "${fieldPath(path)}"`);
  const str = (s: string, path: readonly PropertyKey[]): void => {
    if (LONE_SURROGATE.test(s)) out.push(`unpaired surrogate in string${at(path)}`);
    else if (Buffer.byteLength(s, "utf8") > LIMITS.stringBytes) out.push(`string longer than the limit of ${LIMITS.stringBytes} bytes${at(path)}`);
  };
  const walk = (v: unknown, path: PropertyKey[], depth: number): void => {
    if (typeof v === "string") return str(v, path);
    if (v === null || typeof v !== "object") return;
    if (depth >= LIMITS.depth) {
      out.push(`nesting deeper than the limit of ${LIMITS.depth}${at(path)}`);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length > LIMITS.entries) out.push(`more than ${LIMITS.entries} items in an array (the limit per array)${at(path)}`);
      v.forEach((item, i) => walk(item, [...path, i], depth + 1));
      return;
    }
    const entries = Object.entries(v);
    if (entries.length > LIMITS.entries) out.push(`more than ${LIMITS.entries} members in an object (the limit per object)${at(path)}`);
    for (const [k, item] of entries) {
      str(k, path);
      walk(item, [...path, k], depth + 1);
    }
  };
  walk(value, [], 0);
  return out;
}

/** The configuration text's size against the limit, as the filters word it. */
export function checkSize(text: string): string | null {
  const n = Buffer.byteLength(text, "utf8");
  return n > LIMITS.configBytes ? `configuration of ${n} bytes is larger than the limit of ${LIMITS.configBytes} bytes` : null;
}
