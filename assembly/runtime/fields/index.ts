// One validator per kind of configuration field, shared by every filter, so a stat prefix or a
// cluster name means the same thing everywhere. The controller mirrors each rule and message
// (controller/config/fields.ts); cases.json holds the cases both sides run. Errors read
// `"<field>" <rule>, found <value as written>`. Pure code.
import { JsonKind, JsonValue, kindName } from "../json";
import { Cidr, PortRange, parseCidr, parsePortRange } from "../net/cidr";
import { hex } from "../hex";

/** Longest stat prefix, in bytes (it is repeated in every metric name the filter defines). */
export const STAT_PREFIX_MAX_BYTES: i32 = 64;
/**
 * Longest cluster name, in bytes. Envoy only requires one byte (Cluster.name `min_len: 1`, api/
 * envoy/config/cluster/v3/cluster.proto); Istio's names are `direction|port|subset|host`
 * (pilot/pkg/model/service.go BuildSubsetKey) with a host of at most 253 bytes.
 */
export const CLUSTER_NAME_MAX_BYTES: i32 = 512;

/** A JSON value as an error shows it: strings quoted as JSON does, numbers as written. */
export function show(v: JsonValue): string {
  switch (v.kind) {
    case JsonKind.String: return quote(v.str);
    case JsonKind.Number: return v.numberText();
    case JsonKind.Bool: return v.bool ? "true" : "false";
    default: return kindName(v.kind);
  }
}

/**
 * `s` in double quotes with `"`, `\` and control characters escaped (`\u000a`): the form
 * controller/config/fields.ts quote() writes, so both sides print a value alike.
 */
export function quote(s: string): string {
  let out = "\"";
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(run, i) + (c == 0x22 ? "\\\"" : c == 0x5c ? "\\\\" : (c < 0x10 ? "\\u000" : "\\u001") + hex(c & 0xf));
    run = i + 1;
  }
  return out + s.substring(run) + "\"";
}

// The rules, worded once; controller/config/fields.ts has the same words.
export const RULE_STAT_PREFIX = "must be a stat prefix: letters, digits and '_' in segments joined by single '.', at most 64 bytes";
export const RULE_CLUSTER_NAME = "must be a cluster name: 1 to 512 bytes of letters, digits and _ . - | : *";
export const RULE_CIDR = "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8";
export const RULE_PORT_RANGE = "must be a port 1..65535 or a range \"lo-hi\"";

/** letters, digits, '_' */
@inline function isWord(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
}

/**
 * Stat prefix: `[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*`, at most 64 bytes. Neither '=' nor ';' can
 * appear, so a prefix can never forge Istio's tag separators `=.=` / `;.;` (istio/istio
 * tools/packaging/common/envoy_bootstrap.json, stats_tags), and no segment is empty.
 */
export function isStatPrefix(s: string): bool {
  const n = s.length;
  if (n == 0 || n > STAT_PREFIX_MAX_BYTES) return false;
  let prevDot = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x2e) {
      if (prevDot) return false;
      prevDot = true;
    } else if (isWord(c)) {
      prevDot = false;
    } else {
      return false;
    }
  }
  return !prevDot;
}

/** Cluster name: 1..512 bytes of `[A-Za-z0-9_.\-|:*]` (Istio's `outbound|9080||reviews.default.svc.cluster.local`). */
export function isClusterName(s: string): bool {
  const n = s.length;
  if (n == 0 || n > CLUSTER_NAME_MAX_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!(isWord(c) || c == 0x2e || c == 0x2d || c == 0x7c || c == 0x3a || c == 0x2a)) return false;
  }
  return true;
}

/**
 * A port as a number, or a string "p" / "lo-hi"; null when it is neither. For long lists, where
 * building each item's field name up front would cost an allocation per item (Fields.portRange).
 */
export function toPortRange(v: JsonValue): PortRange | null {
  if (v.kind == JsonKind.String) return parsePortRange(v.str);
  if (v.kind == JsonKind.Number && v.num == Math.floor(v.num) && v.num >= 1 && v.num <= 65535) {
    return new PortRange(<i32>v.num, <i32>v.num);
  }
  return null;
}

/** Reads fields of one configuration; the first error wins and later reads are no-ops. */
export class Fields {
  error: string = "";

  get ok(): bool {
    return this.error.length == 0;
  }

  fail(why: string): void {
    if (this.error.length == 0) this.error = why;
  }

  /** `"<field>" <rule>, found <value>`. */
  reject(field: string, rule: string, v: JsonValue): void {
    this.fail("\"" + field + "\" " + rule + ", found " + show(v));
  }

  unknown(field: string, known: string): void {
    this.fail("unknown field \"" + field + "\" (known: " + known + ")");
  }

  /** An integer in [lo, hi]; `what` names the unit ("a size in bytes"). */
  int(v: JsonValue, field: string, what: string, lo: i32, hi: i32): i32 {
    if (v.kind != JsonKind.Number || v.num != Math.floor(v.num) || v.num < <f64>lo || v.num > <f64>hi) {
      this.reject(field, "must be " + what + ", an integer " + lo.toString() + ".." + hi.toString(), v);
      return lo;
    }
    return <i32>v.num;
  }

  /** A size in bytes, an integer in [lo, hi]. */
  byteSize(v: JsonValue, field: string, lo: i32, hi: i32): i32 {
    return this.int(v, field, "a size in bytes", lo, hi);
  }

  /** A duration in milliseconds, an integer in [lo, hi]. */
  durationMs(v: JsonValue, field: string, lo: i32, hi: i32): i32 {
    return this.int(v, field, "a duration in milliseconds", lo, hi);
  }

  /** Index of the string in `names`, or -1 (with the error listing them). */
  oneOf(v: JsonValue, field: string, names: string[]): i32 {
    if (v.kind == JsonKind.String) {
      for (let i = 0; i < names.length; i++) if (names[i] == v.str) return i;
    }
    this.reject(field, "must be one of " + names.join(", "), v);
    return -1;
  }

  statPrefix(v: JsonValue, field: string): string {
    if (v.kind != JsonKind.String || !isStatPrefix(v.str)) {
      this.reject(field, RULE_STAT_PREFIX, v);
      return "";
    }
    return v.str;
  }

  clusterName(v: JsonValue, field: string): string {
    if (v.kind != JsonKind.String || !isClusterName(v.str)) {
      this.reject(field, RULE_CLUSTER_NAME, v);
      return "";
    }
    return v.str;
  }

  cidr(v: JsonValue, field: string): Cidr | null {
    const c = v.kind == JsonKind.String ? parseCidr(v.str) : null;
    if (c === null) this.reject(field, RULE_CIDR, v);
    return c;
  }

  /** A port as a number, or a string "p" / "lo-hi". */
  portRange(v: JsonValue, field: string): PortRange | null {
    const r = toPortRange(v);
    if (r === null) this.reject(field, RULE_PORT_RANGE, v);
    return r;
  }

  /** An array (or the error naming `field` and what its items must be). */
  list(v: JsonValue, field: string, holding: string): bool {
    if (v.kind == JsonKind.Array) return true;
    this.reject(field, "must be an array of " + holding, v);
    return false;
  }

  /** An object (or the error naming `field` and what it must hold). */
  object(v: JsonValue, field: string, holding: string): bool {
    if (v.kind == JsonKind.Object) return true;
    this.reject(field, "must be an object " + holding, v);
    return false;
  }
}
