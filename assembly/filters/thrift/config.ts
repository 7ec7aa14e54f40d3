// thrift filter configuration: the rule model's JSON form (controller/rules/schema.ts) plus the
// transport, protocol, timeout and seed the filter needs. Pure code: as-pect tests it directly.
//
//   {"stat_prefix": "thrift", "transport": "auto", "protocol": "auto", "decode_timeout_ms": 5000,
//    "seed": 0, "rules": [{"name": "orders", "match": {"service": {"exact": "Orders"}},
//                          "route": {"cluster": "orders-v1"}}]}
import { JsonKind, JsonValue, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields, show } from "../../runtime/fields";
import { ThriftProtocol, ThriftTransport } from "../../codecs/thrift/index";

// Every default in one place.
export const DEFAULT_STAT_PREFIX = "thrift";
export const DEFAULT_DECODE_TIMEOUT_MS: i32 = 5000;
export const MAX_DECODE_TIMEOUT_MS: i32 = 600000;
export const MAX_RULES: i32 = 256;
export const MAX_WEIGHT: i32 = 1000000;
/** TApplicationException type of our answers: INTERNAL_ERROR (apache/thrift TApplicationException.java). */
export const DENY_EXCEPTION_TYPE: i32 = 6;

export const ROUTING_NAMES: string[] = ["connection", "request"];
export const TRANSPORT_NAMES: string[] = ["auto", "framed", "unframed", "header"];
export const PROTOCOL_NAMES: string[] = ["auto", "binary", "compact", "lax_binary"];

export const enum NameKind {
  Any = 0,
  Exact = 1,
  Prefix = 2,
  Glob = 3,
}

/** A name matcher; prefix and glob never match an empty remainder (controller/rules/schema.ts). */
export class NameMatch {
  constructor(public kind: NameKind, public text: string) {}

  matches(s: string): bool {
    switch (this.kind) {
      case NameKind.Any: return true;
      case NameKind.Exact: return s == this.text;
      case NameKind.Prefix: return s.length > this.text.length && s.startsWith(this.text);
      default: return globMatch(this.text, 0, s, 0);
    }
  }
}

/** `*` stands for one or more characters. */
export function globMatch(p: string, pi: i32, s: string, si: i32): bool {
  while (pi < p.length) {
    const c = p.charCodeAt(pi);
    if (c == 42) {
      // Rest of the pattern after this star; the star takes at least one character.
      for (let k = si + 1; k <= s.length; k++) if (globMatch(p, pi + 1, s, k)) return true;
      return false;
    }
    if (si >= s.length || s.charCodeAt(si) != c) return false;
    pi++;
    si++;
  }
  return si == s.length;
}

/** ASCII lower case (header names are ASCII; String#toLowerCase brings Unicode tables). */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length && !upper; i++) {
    const c = s.charCodeAt(i);
    upper = c >= 65 && c <= 90;
  }
  if (!upper) return s;
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = <u16>(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return String.UTF16.decode(out.buffer);
}

export const enum HeaderKind {
  Exact = 0,
  Prefix = 1,
  Present = 2,
}

/** A THeader header; `name` is lower-cased (names compare case-insensitively). */
export class HeaderMatch {
  constructor(public name: string, public kind: HeaderKind, public value: string) {}
}

export class Rule {
  name: string = "";
  service: NameMatch = new NameMatch(NameKind.Any, "");
  method: NameMatch = new NameMatch(NameKind.Any, "");
  headers: HeaderMatch[] = [];
  /** One cluster, or several with weights (cumulative in `cumulative`). "" and [] for deny-only. */
  clusters: string[] = [];
  cumulative: u32[] = [];
  totalWeight: u32 = 0;
  deny: bool = false;
  message: string = "";
  /** Token bucket: `tokens` calls per `intervalMs` (0 = none). */
  rateTokens: i32 = 0;
  rateIntervalMs: i32 = 0;
  /** Abort fault: answer `abortPercentMilli` / 100000 of the calls with `abortMessage`. */
  abortMessage: string = "";
  abortMilliPercent: i32 = 0;
}

export class ThriftFilterConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
  transport: ThriftTransport = ThriftTransport.None;
  protocol: ThriftProtocol = ThriftProtocol.None;
  decodeTimeoutMs: i32 = DEFAULT_DECODE_TIMEOUT_MS;
  /**
   * true: in front of thrift_proxy, which routes each call; the filter neither holds the
   * connection nor writes envoy.tcp_proxy.cluster (`"routing": "request"`).
   */
  perRequest: bool = false;
  /** 0: seeded from the clock at start; otherwise deterministic weighted picks (tests). */
  seed: u32 = 0;
  rules: Rule[] = [];
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class ThriftConfigParse {
  constructor(public config: ThriftFilterConfig, public error: string) {}
}

function invalid(c: ThriftFilterConfig, why: string): ThriftConfigParse {
  return new ThriftConfigParse(c, "thrift: invalid configuration: " + why);
}

export function parseThriftConfig(text: string): ThriftConfigParse {
  return parseThriftConfigBytes(String.UTF8.encode(text));
}

const TOP_FIELDS = "stat_prefix, routing, transport, protocol, decode_timeout_ms, seed, rules";

export function parseThriftConfigBytes(bytes: ArrayBuffer): ThriftConfigParse {
  const c = new ThriftFilterConfig();
  if (isBlank(bytes)) return new ThriftConfigParse(c, "");
  const p = parseJsonBytes(bytes);
  if (!p.ok) return invalid(c, p.message());
  const v = p.value!;
  if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
  const f = new Fields();
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    if (key == "stat_prefix") {
      const s = f.statPrefix(val, key);
      if (f.ok) c.statPrefix = s;
    } else if (key == "routing") {
      const t = f.oneOf(val, key, ROUTING_NAMES);
      if (f.ok) c.perRequest = t == 1;
    } else if (key == "transport") {
      const t = f.oneOf(val, key, TRANSPORT_NAMES);
      if (f.ok) c.transport = t == 1 ? ThriftTransport.Framed : t == 2 ? ThriftTransport.Unframed : t == 3 ? ThriftTransport.Header : ThriftTransport.None;
    } else if (key == "protocol") {
      const t = f.oneOf(val, key, PROTOCOL_NAMES);
      if (f.ok) c.protocol = t == 1 ? ThriftProtocol.Binary : t == 2 ? ThriftProtocol.Compact : t == 3 ? ThriftProtocol.LaxBinary : ThriftProtocol.None;
    } else if (key == "decode_timeout_ms") {
      c.decodeTimeoutMs = f.durationMs(val, key, 1, MAX_DECODE_TIMEOUT_MS);
    } else if (key == "seed") {
      c.seed = <u32>f.int(val, key, "a seed", 0, 2147483647);
    } else if (key == "rules") {
      if (f.list(val, key, "rules") ) {
        if (val.items.length > MAX_RULES) f.reject(key, "must hold at most " + MAX_RULES.toString() + " rules", val);
        for (let r = 0; r < val.items.length && f.ok; r++) {
          const rule = parseRule(f, val.items[r], "rules[" + r.toString() + "]");
          if (f.ok) c.rules.push(rule);
        }
      }
    } else {
      f.unknown(key, TOP_FIELDS);
    }
  }
  if (!f.ok) return invalid(c, f.error);
  return new ThriftConfigParse(c, "");
}

function parseName(f: Fields, v: JsonValue, field: string): NameMatch {
  const any = new NameMatch(NameKind.Any, "");
  if (!f.object(v, field, "{exact|prefix|glob: <name>}")) return any;
  if (v.keys.length != 1) {
    f.reject(field, "must hold exactly one of exact, prefix, glob", v);
    return any;
  }
  const k = v.keys[0];
  const s = v.values[0];
  const kind = k == "exact" ? NameKind.Exact : k == "prefix" ? NameKind.Prefix : k == "glob" ? NameKind.Glob : NameKind.Any;
  if (kind == NameKind.Any) {
    f.unknown(field + "." + k, "exact, prefix, glob");
    return any;
  }
  if (s.kind != JsonKind.String || s.str.length == 0) {
    f.reject(field + "." + k, "must be a non-empty string", s);
    return any;
  }
  return new NameMatch(kind, s.str);
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

/** Percent in [0, 100] as thousandths of a percent (0..100000); -1 when out of range. */
function percentMilli(f: Fields, v: JsonValue, field: string): i32 {
  if (v.kind != JsonKind.Number || v.num < 0 || v.num > 100) {
    f.reject(field, "must be a percentage 0..100", v);
    return -1;
  }
  return <i32>Math.round(v.num * 1000);
}

function parseRule(f: Fields, v: JsonValue, field: string): Rule {
  const r = new Rule();
  if (!f.object(v, field, "{name, match, route, policy, fault}")) return r;
  let hasRoute = false;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    const at = field + "." + key;
    if (key == "name") {
      if (val.kind != JsonKind.String || val.str.length == 0) f.reject(at, "must be a non-empty string", val);
      else r.name = val.str;
    } else if (key == "match") {
      if (!f.object(val, at, "{service, method, headers}")) break;
      for (let m = 0; m < val.keys.length && f.ok; m++) {
        const mk = val.keys[m];
        const mv = val.values[m];
        if (mk == "service") r.service = parseName(f, mv, at + ".service");
        else if (mk == "method") r.method = parseName(f, mv, at + ".method");
        else if (mk == "headers") {
          if (f.list(mv, at + ".headers", "header matches")) {
            for (let h = 0; h < mv.items.length && f.ok; h++) {
              const hm = parseHeader(f, mv.items[h], at + ".headers[" + h.toString() + "]");
              if (hm !== null) r.headers.push(hm);
            }
          }
        } else f.unknown(at + "." + mk, "service, method, headers (version and group are Dubbo only)");
      }
    } else if (key == "route") {
      hasRoute = true;
      parseRoute(f, val, at, r);
    } else if (key == "policy") {
      parsePolicy(f, val, at, r);
    } else if (key == "fault") {
      parseFault(f, val, at, r);
    } else {
      f.unknown(at, "name, match, route, policy, fault");
    }
  }
  if (f.ok && r.name.length == 0) f.fail("\"" + field + ".name\" is required");
  if (f.ok && !hasRoute && !r.deny) f.fail("\"" + field + ".route\" is required unless policy.deny is true");
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
    if (!f.list(val, at + ".weightedClusters", "{name, weight}")) return;
    if (val.items.length == 0) {
      f.reject(at + ".weightedClusters", "needs at least one cluster", val);
      return;
    }
    let total: u32 = 0;
    for (let i = 0; i < val.items.length && f.ok; i++) {
      const w = val.items[i];
      const wf = at + ".weightedClusters[" + i.toString() + "]";
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
      if (val.kind != JsonKind.String || val.str.length == 0) f.reject(at + ".message", "must be a non-empty string", val);
      else r.message = val.str;
    } else if (k == "rateLimit") {
      if (!f.object(val, at + ".rateLimit", "{tokens, interval}")) return;
      const t = val.get("tokens");
      const iv = val.get("interval");
      if (t === null || iv === null || val.keys.length != 2) {
        f.reject(at + ".rateLimit", "must be {tokens, interval}", val);
        return;
      }
      r.rateTokens = f.int(t, at + ".rateLimit.tokens", "a token count", 1, 1000000000);
      const ms = iv.kind == JsonKind.String ? parseDurationMs(iv.str) : -1;
      if (ms < 1) f.reject(at + ".rateLimit.interval", "must be a duration such as 250ms, 1s or 2m", iv);
      r.rateIntervalMs = ms;
    } else {
      f.unknown(at + "." + k, "deny, message, rateLimit");
    }
  }
  if (r.message.length == 0) r.message = "denied by protomesh rule " + r.name;
}

function parseFault(f: Fields, v: JsonValue, at: string, r: Rule): void {
  if (!f.object(v, at, "{abort}")) return;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const k = v.keys[i];
    const val = v.values[i];
    if (k == "abort") {
      if (!f.object(val, at + ".abort", "{message, percent}")) return;
      const m = val.get("message");
      if (m === null || m.kind != JsonKind.String || m.str.length == 0) {
        f.reject(at + ".abort.message", "must be a non-empty string", m === null ? val : m);
        return;
      }
      r.abortMessage = m.str;
      const pc = val.get("percent");
      r.abortMilliPercent = pc === null ? 100000 : percentMilli(f, pc, at + ".abort.percent");
      if (val.keys.length != (pc === null ? 1 : 2)) f.reject(at + ".abort", "must be {message, percent}", val);
    } else {
      // Delay needs the call held past its decision; this build answers it as unsupported.
      f.unknown(at + "." + k, "abort (delay is not supported by this filter)");
    }
  }
}

/** A rule's deny message, the default naming the rule. */
export function denyMessage(r: Rule): string {
  return r.message.length > 0 ? r.message : "denied by protomesh rule " + r.name;
}

// `show` is re-exported so tests can build expected error texts the same way.
export { show };
