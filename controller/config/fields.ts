/**
 * One check per kind of plugin-configuration field, worded exactly as the filters word them
 * (assembly/runtime/fields/index.ts): the controller refuses what a filter would refuse, with the
 * same words, before Envoy's canary VM does. assembly/runtime/fields/cases.json holds the cases
 * both sides run (as-pect there, test/controller/config-fields.test.ts here).
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Longest stat prefix, in bytes (assembly/runtime/fields STAT_PREFIX_MAX_BYTES). */
export const STAT_PREFIX_MAX_BYTES = 64;
/**
 * Longest cluster name, in bytes (assembly/runtime/fields CLUSTER_NAME_MAX_BYTES). Envoy only
 * requires one byte (Cluster.name `min_len: 1`, api/envoy/config/cluster/v3/cluster.proto);
 * Istio's names are `direction|port|subset|host` (istio pilot/pkg/model/service.go BuildSubsetKey).
 */
export const CLUSTER_NAME_MAX_BYTES = 512;

export const RULE_STAT_PREFIX = "must be a stat prefix: letters, digits and '_' in segments joined by single '.', at most 64 bytes";
export const RULE_CLUSTER_NAME = "must be a cluster name: 1 to 512 bytes of letters, digits and _ . - | : *";
export const RULE_CIDR = "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8";
export const RULE_PORT_RANGE = 'must be a port 1..65535 or a range "lo-hi"';

/** `s` in double quotes with `"`, `\` and control characters escaped, as the filters print it. */
export function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f]/g, (c) =>
    c === '"' ? '\\"' : c === "\\" ? "\\\\" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}

/** A value as an error shows it (the filters print a number as written; here JSON.parse already read it). */
export function show(v: unknown): string {
  if (typeof v === "string") return quote(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "null";
  return Array.isArray(v) ? "array" : "object";
}

export function isStatPrefix(s: string): boolean {
  return s.length <= STAT_PREFIX_MAX_BYTES && /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(s);
}

export function isClusterName(s: string): boolean {
  return s.length >= 1 && s.length <= CLUSTER_NAME_MAX_BYTES && /^[A-Za-z0-9_.\-|:*]+$/.test(s);
}

/** An address, optionally /prefix (a bare address is one host), as assembly/runtime/net/cidr.ts parses it. */
export function isCidr(s: string): boolean {
  const m = /^([^/]+)(?:\/(0|[1-9]\d{0,2}))?$/.exec(s);
  if (m === null) return false;
  const family = isIP(m[1]!);
  if (family === 0 || m[1]!.includes("%")) return false;
  const bits = m[2] === undefined ? 0 : Number(m[2]);
  if (family === 4) return bits <= 32;
  // "::ffff:10.0.0.0/104" spells an IPv4 range in IPv6: its prefix must cover the ::ffff:0:0/96 part.
  const mapped = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(m[1]!);
  return bits <= 128 && (!mapped || m[2] === undefined || bits >= 96);
}

/** A port 1..65535 as a number, or a string "p" / "lo-hi" without leading zeros and lo <= hi. */
export function isPortRange(p: unknown): boolean {
  if (typeof p === "number") return Number.isInteger(p) && p >= 1 && p <= 65535;
  if (typeof p !== "string") return false;
  const m = /^([1-9]\d{0,4})(?:-([1-9]\d{0,4}))?$/.exec(p);
  if (m === null) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return hi <= 65535 && lo <= hi;
}

function isIntIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

/** A field check: the rule the value breaks (without the field's name), or null. */
export type FieldCheck = (v: unknown) => string | null;

const rejects = (ok: boolean, rule: string, v: unknown): string | null => (ok ? null : `${rule}, found ${show(v)}`);

export const checkStatPrefix: FieldCheck = (v) => rejects(typeof v === "string" && isStatPrefix(v), RULE_STAT_PREFIX, v);
export const checkClusterName: FieldCheck = (v) => rejects(typeof v === "string" && isClusterName(v), RULE_CLUSTER_NAME, v);
export const checkCidr: FieldCheck = (v) => rejects(typeof v === "string" && isCidr(v), RULE_CIDR, v);
export const checkPortRange: FieldCheck = (v) => rejects(isPortRange(v), RULE_PORT_RANGE, v);
export const checkByteSize = (lo: number, hi: number): FieldCheck => (v) =>
  rejects(isIntIn(v, lo, hi), `must be a size in bytes, an integer ${lo}..${hi}`, v);
export const checkDurationMs = (lo: number, hi: number): FieldCheck => (v) =>
  rejects(isIntIn(v, lo, hi), `must be a duration in milliseconds, an integer ${lo}..${hi}`, v);
export const checkOneOf = (names: readonly string[]): FieldCheck => (v) =>
  rejects(typeof v === "string" && names.includes(v), `must be one of ${names.join(", ")}`, v);
export const checkArray = (holding: string): FieldCheck => (v) => rejects(Array.isArray(v), `must be an array of ${holding}`, v);
export const checkObject = (holding: string): FieldCheck => (v) =>
  rejects(v !== null && typeof v === "object" && !Array.isArray(v), `must be an object ${holding}`, v);

/** The checks by kind name, as cases.json names them. */
export const FIELD_KINDS = {
  stat_prefix: () => checkStatPrefix,
  cluster_name: () => checkClusterName,
  cidr: () => checkCidr,
  port_range: () => checkPortRange,
  duration_ms: (lo: number, hi: number) => checkDurationMs(lo, hi),
  byte_size: (lo: number, hi: number) => checkByteSize(lo, hi),
} as const;

/** A zod schema running `check`; its issue message is the rule and the value found. */
export function field(check: FieldCheck): z.ZodType<unknown> {
  return z.any().superRefine((v, ctx) => {
    const why = v === undefined ? "is required" : check(v);
    if (why !== null) ctx.addIssue({ code: "custom", message: why });
  });
}

/** Same as field(), for an optional member (absent = the filter's default). */
export function optionalField(check: FieldCheck): z.ZodType<unknown> {
  return field(check).optional();
}

/** `allowed_destinations[0].cidr` from a zod path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out === "" ? String(seg) : `.${String(seg)}`;
  return out;
}

/** Marks an issue whose message is the whole sentence (no `"<field>" ` in front). */
export const WHOLE = { whole: true } as const;

/**
 * A zod issue in the filters' words: `"<field>" <rule>, found <value>`, `unknown field "<f>"
 * (known: …)`, or a whole sentence.
 */
export function describeIssue(issue: z.core.$ZodIssue, known: (path: readonly PropertyKey[]) => readonly string[]): string {
  if (issue.code === "unrecognized_keys") {
    const at = fieldPath(issue.path);
    return issue.keys.map((k) => `unknown field "${at === "" ? k : `${at}.${k}`}" (known: ${known(issue.path).join(", ")})`).join("; ");
  }
  if (issue.code === "custom" && (issue as { params?: { whole?: boolean } }).params?.whole === true) return issue.message;
  return `"${fieldPath(issue.path)}" ${issue.message}`;
}
