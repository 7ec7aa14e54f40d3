/**
 * protoc-gen-validate (PGV) rules: the `(validate.rules)`, `(validate.required)` and
 * `(validate.disabled)` annotations of Envoy's protos, checked the way the C++ validators that PGV
 * generates for Envoy check them (bufbuild/protoc-gen-validate `templates/cc/*.go`,
 * `validate/validate.h`). Envoy runs those validators on the bootstrap and on every `typed_config`
 * it unpacks (source/common/protobuf/utility.h, `MessageUtil::validate`), so a violation fails
 * startup, or NACKs the resource over xDS. The annotations are read in pgv-annotations.ts.
 *
 * Semantics copied from the C++ templates:
 * - scalars (no presence) are checked even when unset, as their default value (`0`, `""`);
 *   wrappers, Duration, Timestamp and Any only when set, except their `required`;
 * - a oneof member is checked only when it is the member set; `(validate.required)` on the oneof
 *   needs one set;
 * - `pattern` and `well_known_regex` must match the whole string (RE2::FullMatch);
 *   `min_len`/`max_len`/`len` count UTF-8 characters, `*_bytes` count bytes;
 * - `ignore_empty` skips the rules of an empty value; `message.skip` skips the message's own rules.
 * - `email`, `uri` and `uri_ref` are not checked: PGV's C++ generator refuses them, so no Envoy
 *   proto uses them.
 */
import { durationNs, durationText } from "./duration.js";
import { isObject, type FieldRules } from "./pgv-annotations.js";
import { HEADER_STRING, HTTP_HEADER_NAME, HTTP_HEADER_VALUE, isHostname, isIp, isIpv4, isIpv6, UUID } from "./string-formats.js";

export type { FieldRules } from "./pgv-annotations.js";

/** The value a rule group sees. */
export type RuleValue =
  | { readonly kind: "int"; readonly n: bigint }
  | { readonly kind: "float"; readonly n: number }
  | { readonly kind: "bool"; readonly v: boolean }
  | { readonly kind: "string"; readonly v: string }
  | { readonly kind: "bytes"; readonly v: Buffer }
  | { readonly kind: "enum"; readonly n: number; readonly defined: readonly number[]; readonly names: Readonly<Record<string, number>> }
  | { readonly kind: "duration"; readonly ns: bigint }
  | { readonly kind: "timestamp"; readonly ns: bigint }
  | { readonly kind: "any"; readonly typeUrl: string };

const SCALAR_GROUPS = new Set(["float", "double", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"]);

/** The group of FieldRules that applies to a value of protobuf scalar type `type` (e.g. "uint32"). */
function groupFor(rules: FieldRules, names: readonly string[]): [string, Readonly<Record<string, unknown>>] | undefined {
  for (const n of names) if (isObject(rules[n])) return [n, rules[n]!];
  return undefined;
}

/** How a value is shown in a message: strings quoted and cut, the rest as written. */
export function show(raw: unknown): string {
  const text = typeof raw === "string" ? JSON.stringify(raw) : typeof raw === "bigint" ? String(raw) : JSON.stringify(raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function showBound(v: unknown): string {
  if (isObject(v) && ("seconds" in v || "nanos" in v || Object.keys(v).length === 0)) return durationText(durationNs(v));
  return typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(showBound).join(", ")}]` : String(v);
}

type Num = bigint | number;

function toNum(v: unknown, like: Num): Num {
  if (typeof like === "bigint") return isObject(v) ? durationNs(v) : BigInt(String(v));
  return Number(v);
}

/** Bound rules (const, lt, lte, gt, gte, in, not_in) on an ordered value, PGV's range semantics included. */
function checkOrdered(group: string, r: Readonly<Record<string, unknown>>, n: Num, out: string[]): void {
  const has = (k: string): boolean => r[k] !== undefined;
  const b = (k: string): Num => toNum(r[k], n);
  if (has("const") && n !== b("const")) out.push(`violates ${group}.const ${showBound(r["const"])}`);
  const upper = has("lt") ? "lt" : has("lte") ? "lte" : undefined;
  const lower = has("gt") ? "gt" : has("gte") ? "gte" : undefined;
  const upperOk = upper === undefined || (upper === "lt" ? n < b("lt") : n <= b("lte"));
  const lowerOk = lower === undefined || (lower === "gt" ? n > b("gt") : n >= b("gte"));
  if (upper !== undefined && lower !== undefined && b(upper) <= b(lower)) {
    // PGV: lt/lte below gt/gte asks for a value outside the range.
    if (!upperOk && !lowerOk) out.push(`violates ${group}.${upper} ${showBound(r[upper])} or ${group}.${lower} ${showBound(r[lower])} (outside the range)`);
  } else {
    if (!lowerOk) out.push(`violates ${group}.${lower} ${showBound(r[lower!])}`);
    if (!upperOk) out.push(`violates ${group}.${upper} ${showBound(r[upper!])}`);
  }
  const list = (k: string): Num[] => (Array.isArray(r[k]) ? (r[k] as unknown[]) : r[k] === undefined ? [] : [r[k]]).map((x) => toNum(x, n));
  if (has("in") && !list("in").some((x) => x === n)) out.push(`violates ${group}.in ${showBound(r["in"])}`);
  if (has("not_in") && list("not_in").some((x) => x === n)) out.push(`violates ${group}.not_in ${showBound(r["not_in"])}`);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

function checkLengths(group: string, r: Readonly<Record<string, unknown>>, chars: number, bytes: number, out: string[]): void {
  const num = (k: string): number | undefined => (r[k] === undefined ? undefined : Number(r[k]));
  const rules: Array<[string, number, (n: number, lim: number) => boolean]> = [
    ["len", chars, (n, l) => n === l], ["min_len", chars, (n, l) => n >= l], ["max_len", chars, (n, l) => n <= l],
    ["len_bytes", bytes, (n, l) => n === l], ["min_bytes", bytes, (n, l) => n >= l], ["max_bytes", bytes, (n, l) => n <= l],
  ];
  for (const [k, n, ok] of rules) {
    const lim = num(k);
    if (lim !== undefined && !ok(n, lim)) out.push(`violates ${group}.${k} ${lim}`);
  }
}

const compiled = new Map<string, RegExp | null>();

/**
 * RE2::FullMatch of a PGV pattern. RE2 and JavaScript agree on the patterns Envoy's protos use; a
 * leading `(?i)` becomes the `i` flag, and a pattern JavaScript cannot compile is not checked
 * (better no check than a wrong one).
 */
function fullMatch(pattern: string, s: string): boolean {
  if (!compiled.has(pattern)) {
    const insensitive = pattern.startsWith("(?i)");
    const body = insensitive ? pattern.slice(4) : pattern;
    let re: RegExp | null = null;
    try {
      re = new RegExp(`^(?:${body})$`, insensitive ? "ui" : "u");
    } catch {
      re = null;
    }
    compiled.set(pattern, re);
  }
  const re = compiled.get(pattern);
  return re === null || re === undefined || re.test(s);
}

function checkString(r: Readonly<Record<string, unknown>>, s: string, out: string[]): void {
  checkLengths("string", r, [...s].length, Buffer.byteLength(s), out);
  const str = (k: string): string | undefined => (typeof r[k] === "string" ? (r[k] as string) : undefined);
  if (str("const") !== undefined && s !== str("const")) out.push(`violates string.const ${show(r["const"])}`);
  if (str("prefix") !== undefined && !s.startsWith(str("prefix")!)) out.push(`violates string.prefix ${show(r["prefix"])}`);
  if (str("suffix") !== undefined && !s.endsWith(str("suffix")!)) out.push(`violates string.suffix ${show(r["suffix"])}`);
  if (str("contains") !== undefined && !s.includes(str("contains")!)) out.push(`violates string.contains ${show(r["contains"])}`);
  if (str("not_contains") !== undefined && s.includes(str("not_contains")!)) out.push(`violates string.not_contains ${show(r["not_contains"])}`);
  if (str("pattern") !== undefined && !fullMatch(str("pattern")!, s)) out.push(`violates string.pattern ${show(r["pattern"])}`);
  if (r["in"] !== undefined && !list(r["in"]).includes(s)) out.push(`violates string.in ${showBound(list(r["in"]))}`);
  if (r["not_in"] !== undefined && list(r["not_in"]).includes(s)) out.push(`violates string.not_in ${showBound(list(r["not_in"]))}`);
  const wellKnown: Array<[string, (s: string) => boolean]> = [
    ["ip", isIp], ["ipv4", isIpv4], ["ipv6", isIpv6],
    ["hostname", isHostname], ["address", (x) => isHostname(x) || isIp(x)], ["uuid", (x) => UUID.test(x)],
  ];
  for (const [k, ok] of wellKnown) if (r[k] === true && !ok(s)) out.push(`violates string.${k}`);
  const known = r["well_known_regex"];
  if (known === "HTTP_HEADER_NAME" || known === "HTTP_HEADER_VALUE") {
    // PGV: strict defaults to true; `strict: false` swaps in the loose HEADER_STRING pattern.
    const strict = r["strict"] !== false;
    const re = !strict ? HEADER_STRING : known === "HTTP_HEADER_NAME" ? HTTP_HEADER_NAME : HTTP_HEADER_VALUE;
    if (!re.test(s)) out.push(`violates string.well_known_regex ${known}${strict ? "" : " (strict: false)"}`);
  }
}

function checkBytes(r: Readonly<Record<string, unknown>>, b: Buffer, out: string[]): void {
  const bytes = b.length;
  const num = (k: string): number | undefined => (r[k] === undefined ? undefined : Number(r[k]));
  for (const [k, ok] of [["len", (n: number, l: number) => n === l], ["min_len", (n: number, l: number) => n >= l], ["max_len", (n: number, l: number) => n <= l]] as const) {
    const lim = num(k);
    if (lim !== undefined && !ok(bytes, lim)) out.push(`violates bytes.${k} ${lim}`);
  }
  const bin = (k: string): Buffer | undefined => (typeof r[k] === "string" ? Buffer.from(r[k] as string, "latin1") : undefined);
  if (bin("const") !== undefined && !b.equals(bin("const")!)) out.push(`violates bytes.const ${show(r["const"])}`);
  if (bin("prefix") !== undefined && !b.subarray(0, bin("prefix")!.length).equals(bin("prefix")!)) out.push(`violates bytes.prefix ${show(r["prefix"])}`);
  if (bin("suffix") !== undefined && !b.subarray(Math.max(0, bytes - bin("suffix")!.length)).equals(bin("suffix")!)) out.push(`violates bytes.suffix ${show(r["suffix"])}`);
  if (bin("contains") !== undefined && !b.includes(bin("contains")!)) out.push(`violates bytes.contains ${show(r["contains"])}`);
  if (typeof r["pattern"] === "string" && !fullMatch(r["pattern"], b.toString("latin1"))) out.push(`violates bytes.pattern ${show(r["pattern"])}`);
  const bins = (k: string): Buffer[] => list(r[k]).map((x) => Buffer.from(String(x), "latin1"));
  if (r["in"] !== undefined && !bins("in").some((x) => x.equals(b))) out.push(`violates bytes.in`);
  if (r["not_in"] !== undefined && bins("not_in").some((x) => x.equals(b))) out.push(`violates bytes.not_in`);
  if (r["ip"] === true && bytes !== 4 && bytes !== 16) out.push(`violates bytes.ip (4 or 16 bytes)`);
  if (r["ipv4"] === true && bytes !== 4) out.push(`violates bytes.ipv4 (4 bytes)`);
  if (r["ipv6"] === true && bytes !== 16) out.push(`violates bytes.ipv6 (16 bytes)`);
}

function isEmpty(v: RuleValue): boolean {
  switch (v.kind) {
    case "int": return v.n === 0n;
    case "float": return v.n === 0;
    case "string": return v.v === "";
    case "bytes": return v.v.length === 0;
    case "enum": return v.n === 0;
    default: return false;
  }
}

/**
 * Violations of the rule group that applies to one value (not the `repeated`/`map` count rules,
 * not `required`). `group` is the FieldRules member (e.g. "uint32", "string", "duration").
 */
export function valueViolations(rules: FieldRules, v: RuleValue): string[] {
  const out: string[] = [];
  const pick = (names: readonly string[]): [string, Readonly<Record<string, unknown>>] | undefined => groupFor(rules, names);
  let g: [string, Readonly<Record<string, unknown>>] | undefined;
  switch (v.kind) {
    case "int":
    case "float":
      g = pick([...SCALAR_GROUPS]);
      if (g !== undefined && !(g[1]["ignore_empty"] === true && isEmpty(v))) checkOrdered(g[0], g[1], v.n, out);
      break;
    case "bool":
      g = pick(["bool"]);
      if (g !== undefined && g[1]["const"] !== undefined && v.v !== g[1]["const"]) out.push(`violates bool.const ${String(g[1]["const"])}`);
      break;
    case "string":
      g = pick(["string"]);
      if (g !== undefined && !(g[1]["ignore_empty"] === true && v.v === "")) checkString(g[1], v.v, out);
      break;
    case "bytes":
      g = pick(["bytes"]);
      if (g !== undefined && !(g[1]["ignore_empty"] === true && v.v.length === 0)) checkBytes(g[1], v.v, out);
      break;
    case "enum": {
      g = pick(["enum"]);
      if (g === undefined) break;
      const r = g[1];
      const num = (x: unknown): number => (typeof x === "string" && x in v.names ? v.names[x]! : Number(x));
      if (r["const"] !== undefined && v.n !== num(r["const"])) out.push(`violates enum.const ${String(r["const"])}`);
      if (r["defined_only"] === true && !v.defined.includes(v.n)) out.push(`violates enum.defined_only`);
      if (r["in"] !== undefined && !list(r["in"]).map(num).includes(v.n)) out.push(`violates enum.in ${showBound(list(r["in"]))}`);
      if (r["not_in"] !== undefined && list(r["not_in"]).map(num).includes(v.n)) out.push(`violates enum.not_in ${showBound(list(r["not_in"]))}`);
      break;
    }
    case "duration":
      g = pick(["duration"]);
      if (g !== undefined) checkOrdered("duration", g[1], v.ns, out);
      break;
    case "timestamp": {
      g = pick(["timestamp"]);
      if (g === undefined) break;
      const r = g[1];
      checkOrdered("timestamp", r, v.ns, out);
      const now = BigInt(Date.now()) * 1_000_000n;
      const within = r["within"] === undefined ? undefined : durationNs(r["within"]);
      if (r["lt_now"] === true && !(v.ns < now) && within === undefined) out.push(`violates timestamp.lt_now`);
      if (r["gt_now"] === true && !(v.ns > now) && within === undefined) out.push(`violates timestamp.gt_now`);
      if (within !== undefined) {
        const d = v.ns > now ? v.ns - now : now - v.ns;
        const sideOk = (r["lt_now"] !== true || v.ns < now) && (r["gt_now"] !== true || v.ns > now);
        if (d > within || !sideOk) out.push(`violates timestamp.within ${durationText(within)}`);
      }
      break;
    }
    case "any": {
      g = pick(["any"]);
      if (g === undefined) break;
      if (g[1]["in"] !== undefined && !list(g[1]["in"]).includes(v.typeUrl)) out.push(`violates any.in ${showBound(list(g[1]["in"]))}`);
      if (g[1]["not_in"] !== undefined && list(g[1]["not_in"]).includes(v.typeUrl)) out.push(`violates any.not_in ${showBound(list(g[1]["not_in"]))}`);
      break;
    }
  }
  return out;
}

/** `required` of a message-typed field that is unset (message, wrapper, Duration, Timestamp, Any). */
export function requiredViolation(rules: FieldRules): string | undefined {
  for (const g of ["message", "duration", "timestamp", "any"]) {
    if (isObject(rules[g]) && rules[g]!["required"] === true) return `unset, violates ${g}.required`;
  }
  return undefined;
}

/** Count rules of a repeated field (min_items, max_items, unique). `keys` identify items for `unique`. */
export function repeatedViolations(rules: FieldRules, keys: readonly string[]): string[] {
  const r = rules["repeated"];
  if (!isObject(r) || (r["ignore_empty"] === true && keys.length === 0)) return [];
  const out: string[] = [];
  const n = keys.length;
  if (r["min_items"] !== undefined && n < Number(r["min_items"])) out.push(`has ${n} item(s), violates repeated.min_items ${r["min_items"]}`);
  if (r["max_items"] !== undefined && n > Number(r["max_items"])) out.push(`has ${n} item(s), violates repeated.max_items ${r["max_items"]}`);
  if (r["unique"] === true && new Set(keys).size !== n) out.push(`has repeated items, violates repeated.unique`);
  return out;
}

/** Count rules of a map field (min_pairs, max_pairs). */
export function mapViolations(rules: FieldRules, pairs: number): string[] {
  const r = rules["map"];
  if (!isObject(r) || (r["ignore_empty"] === true && pairs === 0)) return [];
  const out: string[] = [];
  if (r["min_pairs"] !== undefined && pairs < Number(r["min_pairs"])) out.push(`has ${pairs} pair(s), violates map.min_pairs ${r["min_pairs"]}`);
  if (r["max_pairs"] !== undefined && pairs > Number(r["max_pairs"])) out.push(`has ${pairs} pair(s), violates map.max_pairs ${r["max_pairs"]}`);
  return out;
}

