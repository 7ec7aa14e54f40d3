// The rule model's JSON form (controller/rules/schema.ts) → Rule, for every RPC filter. Errors
// name the field (`"rules[2].route.cluster" must be ...`) through the shared Fields validators.
// Pure code.
import { JsonKind, JsonValue } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import { NameKind, NameMatch } from "./name-match";
import { HeaderKind, HeaderMatch, asciiLower } from "./header-match";
import { PERCENT_SCALE, Rule } from "./rule";

export const MAX_WEIGHT: i32 = 1000000;
/**
 * Rules one RPC filter accepts (controller/config/{dubbo,thrift}.ts agree). 4,096 leaves room for
 * the thousand-rule sets of large meshes; the configuration's own limit (runtime/json LIMITS:
 * 1 MiB) is what binds first for rules longer than about 250 bytes.
 */
export const MAX_RULES: i32 = 4096;

/** What a protocol's rules may say beyond service, method and headers. */
export class RuleSyntax {
  constructor(
    /** `match.version` and `match.group` (Dubbo). */
    public versionGroup: bool,
    /** `fault.delay` (the filter can hold a call). */
    public delay: bool,
  ) {}
}

/** `"rules": [...]` into `out`; at most `max` rules. */
export function parseRules(f: Fields, v: JsonValue, field: string, max: i32, syntax: RuleSyntax, out: Rule[]): void {
  if (!f.list(v, field, "rules")) return;
  if (v.items.length > max) f.reject(field, "must hold at most " + max.toString() + " rules", v);
  for (let r = 0; r < v.items.length && f.ok; r++) {
    const rule = parseRule(f, v.items[r], field + "[" + r.toString() + "]", syntax);
    if (f.ok) out.push(rule);
  }
}

/** "250ms", "1s", "2m" → milliseconds; -1 when malformed. */
export function parseDurationMs(s: string): i32 {
  let unit: i32 = 0;
  let digits = s.length;
  if (s.endsWith("ms")) { unit = 1; digits -= 2; }
  else if (s.endsWith("s")) { unit = 1000; digits -= 1; }
  else if (s.endsWith("m")) { unit = 60000; digits -= 1; }
  if (unit == 0 || digits < 1 || digits > 6) return -1;
  let n: i32 = 0;
  for (let i = 0; i < digits; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n * unit;
}

function nonEmpty(f: Fields, v: JsonValue | null, field: string, where: JsonValue): string {
  if (v === null || v.kind != JsonKind.String || v.str.length == 0) {
    f.reject(field, "must be a non-empty string", v === null ? where : v);
    return "";
  }
  return v.str;
}

/** `percent` of an object (default 100) in thousandths of a percent. */
function percentOf(f: Fields, v: JsonValue, field: string): i32 {
  const p = v.get("percent");
  if (p === null) return PERCENT_SCALE;
  if (p.kind != JsonKind.Number || p.num < 0 || p.num > 100) {
    f.reject(field + ".percent", "must be a percentage 0..100", p);
    return 0;
  }
  return <i32>Math.round(p.num * 1000);
}

/** `v` holds exactly `a` and, optionally, `b`. */
function only(f: Fields, v: JsonValue, field: string, a: string, b: string): void {
  const n = (v.get(a) !== null ? 1 : 0) + (v.get(b) !== null ? 1 : 0);
  if (f.ok && v.keys.length != n) f.reject(field, "must be {" + a + ", " + b + "}", v);
}

function parseName(f: Fields, v: JsonValue, field: string): NameMatch {
  const any = new NameMatch(NameKind.Any, "");
  if (!f.object(v, field, "{exact|prefix|glob: <name>}")) return any;
  if (v.keys.length != 1) {
    f.reject(field, "must hold exactly one of exact, prefix, glob", v);
    return any;
  }
  const k = v.keys[0];
  const kind = k == "exact" ? NameKind.Exact : k == "prefix" ? NameKind.Prefix : k == "glob" ? NameKind.Glob : NameKind.Any;
  if (kind == NameKind.Any) {
    f.unknown(field + "." + k, "exact, prefix, glob");
    return any;
  }
  return new NameMatch(kind, nonEmpty(f, v.values[0], field + "." + k, v));
}

function parseHeader(f: Fields, v: JsonValue, field: string): HeaderMatch | null {
  if (!f.object(v, field, "{name, exact|prefix|present}")) return null;
  const n = v.get("name");
  if (n === null || n.kind != JsonKind.String || n.str.length == 0) {
    f.reject(field + ".name", "must be a non-empty string", n === null ? v : n);
    return null;
  }
  if (v.keys.length != 2) {
    f.reject(field, "must hold name and exactly one of exact, prefix, present", v);
    return null;
  }
  const k = v.keys[0] == "name" ? v.keys[1] : v.keys[0];
  const s = v.keys[0] == "name" ? v.values[1] : v.values[0];
  const name = asciiLower(n.str);
  if (k == "present") {
    if (s.kind != JsonKind.Bool || !s.bool) f.reject(field + ".present", "must be true", s);
    return new HeaderMatch(name, HeaderKind.Present, "");
  }
  if (k != "exact" && k != "prefix") {
    f.unknown(field + "." + k, "name, exact, prefix, present");
    return null;
  }
  if (s.kind != JsonKind.String || (k == "prefix" && s.str.length == 0)) {
    f.reject(field + "." + k, "must be a string", s);
    return null;
  }
  return new HeaderMatch(name, k == "exact" ? HeaderKind.Exact : HeaderKind.Prefix, s.str);
}

function parseMatch(f: Fields, v: JsonValue, at: string, r: Rule, syntax: RuleSyntax): void {
  if (!f.object(v, at, "{service, method, headers}")) return;
  for (let m = 0; m < v.keys.length && f.ok; m++) {
    const k = v.keys[m];
    const val = v.values[m];
    const vg = syntax.versionGroup;
    if (k == "service") r.service = parseName(f, val, at + ".service");
    else if (k == "method") r.method = parseName(f, val, at + ".method");
    else if (vg && k == "version") r.version = nonEmpty(f, val, at + ".version", v);
    else if (vg && k == "group") r.group = nonEmpty(f, val, at + ".group", v);
    else if (k == "headers") {
      if (!f.list(val, at + ".headers", "header matches")) return;
      for (let h = 0; h < val.items.length && f.ok; h++) {
        const hm = parseHeader(f, val.items[h], at + ".headers[" + h.toString() + "]");
        if (hm !== null) r.headers.push(hm);
      }
    } else f.unknown(at + "." + k, vg ? "service, method, version, group, headers" : "service, method, headers (version and group are Dubbo only)");
  }
}

/** One rule; `field` names it in errors ("rules[3]"). */
export function parseRule(f: Fields, v: JsonValue, field: string, syntax: RuleSyntax): Rule {
  const r = new Rule();
  if (!f.object(v, field, "{name, match, route, policy, fault}")) return r;
  let hasRoute = false;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    const at = field + "." + key;
    if (key == "name") r.name = nonEmpty(f, val, at, v);
    else if (key == "match") parseMatch(f, val, at, r, syntax);
    else if (key == "route") {
      hasRoute = true;
      parseRoute(f, val, at, r);
    } else if (key == "policy") parsePolicy(f, val, at, r);
    else if (key == "fault") parseFault(f, val, at, r, syntax);
    else f.unknown(at, "name, match, route, policy, fault");
  }
  if (f.ok && r.name.length == 0) f.fail("\"" + field + ".name\" is required");
  if (f.ok && !hasRoute && !r.deny) f.fail("\"" + field + ".route\" is required unless policy.deny is true");
  if (r.message.length == 0) r.message = "denied by protomesh rule " + r.name;
  return r;
}

function parseRoute(f: Fields, v: JsonValue, at: string, r: Rule): void {
  if (!f.object(v, at, "{cluster} or {weightedClusters}")) return;
  if (v.keys.length != 1) {
    f.reject(at, "must hold exactly one of cluster, weightedClusters", v);
    return;
  }
  const k = v.keys[0];
  const val = v.values[0];
  if (k == "cluster") {
    const name = f.clusterName(val, at + ".cluster");
    if (!f.ok) return;
    r.clusters.push(name);
    r.cumulative.push(1);
    r.totalWeight = 1;
  } else if (k == "weightedClusters") {
    const wl = at + ".weightedClusters";
    if (!f.list(val, wl, "{name, weight}")) return;
    if (val.items.length == 0) {
      f.reject(wl, "needs at least one cluster", val);
      return;
    }
    let total: u32 = 0;
    for (let i = 0; i < val.items.length && f.ok; i++) {
      const w = val.items[i];
      const wf = wl + "[" + i.toString() + "]";
      if (!f.object(w, wf, "{name, weight}")) return;
      const n = w.get("name");
      const wt = w.get("weight");
      if (n === null || wt === null || w.keys.length != 2) {
        f.reject(wf, "must be {name, weight}", w);
        return;
      }
      const name = f.clusterName(n, wf + ".name");
      const weight = f.int(wt, wf + ".weight", "a weight", 1, MAX_WEIGHT);
      if (!f.ok) return;
      total += <u32>weight;
      r.clusters.push(name);
      r.cumulative.push(total);
    }
    r.totalWeight = total;
  } else {
    f.unknown(at + "." + k, "cluster, weightedClusters");
  }
}

function parsePolicy(f: Fields, v: JsonValue, at: string, r: Rule): void {
  if (!f.object(v, at, "{deny, message, rateLimit}")) return;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const k = v.keys[i];
    const val = v.values[i];
    if (k == "deny") {
      if (val.kind == JsonKind.Bool) r.deny = val.bool;
      else f.reject(at + ".deny", "must be true or false", val);
    } else if (k == "message") {
      r.message = nonEmpty(f, val, at + ".message", v);
    } else if (k == "rateLimit") {
      const rl = at + ".rateLimit";
      if (!f.object(val, rl, "{tokens, interval}")) return;
      const t = val.get("tokens");
      const iv = val.get("interval");
      if (t === null || iv === null || val.keys.length != 2) {
        f.reject(rl, "must be {tokens, interval}", val);
        return;
      }
      r.rateTokens = f.int(t, rl + ".tokens", "a token count", 1, 1000000000);
      const ms = iv.kind == JsonKind.String ? parseDurationMs(iv.str) : -1;
      if (ms < 1) f.reject(rl + ".interval", "must be a duration such as 250ms, 1s or 2m", iv);
      r.rateIntervalMs = ms;
    } else {
      f.unknown(at + "." + k, "deny, message, rateLimit");
    }
  }
}

function parseFault(f: Fields, v: JsonValue, at: string, r: Rule, syntax: RuleSyntax): void {
  if (!f.object(v, at, "{abort, delay}")) return;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const k = v.keys[i];
    const val = v.values[i];
    const ff = at + "." + k;
    if (k == "abort") {
      if (!f.object(val, ff, "{message, percent}")) return;
      r.abortMessage = nonEmpty(f, val.get("message"), ff + ".message", val);
      if (f.ok) r.abortMilliPercent = percentOf(f, val, ff);
      only(f, val, ff, "message", "percent");
    } else if (k == "delay" && syntax.delay) {
      if (!f.object(val, ff, "{duration, percent}")) return;
      const d = val.get("duration");
      const ms = d !== null && d.kind == JsonKind.String ? parseDurationMs(d.str) : -1;
      if (ms < 1) f.reject(ff + ".duration", "must be a duration such as 250ms, 1s or 2m", d === null ? val : d);
      r.delayMs = ms;
      if (f.ok) r.delayMilliPercent = percentOf(f, val, ff);
      only(f, val, ff, "duration", "percent");
    } else {
      f.unknown(ff, syntax.delay ? "abort, delay" : "abort");
    }
  }
}
