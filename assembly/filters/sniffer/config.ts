// sniffer configuration: JSON → a typed config. Pure code. Every default lives in DEFAULTS;
// every error names the field ("routes.redis", "allowed_destinations[1].ports[0]").
import { JsonKind, JsonValue, kindName, parseJson } from "../../runtime/json";
import { Protocol, PROTOCOL_COUNT, protocolName } from "../../codecs/detect/result";
import { DestinationRule, PortRange, parseCidr, parsePortRange } from "./cidr";

export const enum Mode {
  Observe = 0,
  Route = 1,
  Bypass = 2,
}

export function modeName(m: Mode): string {
  switch (m) {
    case Mode.Route: return "route";
    case Mode.Bypass: return "bypass";
    default: return "observe";
  }
}

export const enum TargetKind {
  Cluster = 0,
  Passthrough = 1,
  Deny = 2,
}

/** Where `route` mode sends a protocol. For Passthrough, `cluster` is `passthrough_cluster`. */
export class Target {
  constructor(public kind: TargetKind, public cluster: string) {}
}

/** The defaults, in one place (README "Configuration" mirrors this). */
export namespace DEFAULTS {
  export const MODE: Mode = Mode.Observe;
  export const MAX_DETECT_BYTES: i32 = 64;
  export const MAX_TLS_BYTES: i32 = 16384;
  export const DETECT_TIMEOUT_MS: i32 = 1000;
  export const STAT_PREFIX: string = "sniffer";
  export const DEFAULT_ROUTE: string = "passthrough";
  export const PASSTHROUGH_CLUSTER: string = "PassthroughCluster";
}

/** Bounds: a detector never needs more than Envoy tls_inspector's 16 KiB ClientHello limit. */
export const MAX_BYTES_LIMIT: i32 = 16384;
/** One hour; keeps the tick arithmetic far from overflow. */
export const MAX_TIMEOUT_MS: i32 = 3600000;

const TARGET_PASSTHROUGH = "passthrough";
const TARGET_DENY = "deny";

export class SnifferConfig {
  constructor(
    readonly mode: Mode,
    readonly maxDetectBytes: i32,
    readonly maxTlsBytes: i32,
    /** 0 = no timeout. */
    readonly detectTimeoutMs: i32,
    readonly statPrefix: string,
    /** Effective target per Protocol (index = Protocol): the `routes` entry or `default_route`. */
    readonly targets: StaticArray<Target>,
    readonly defaultRoute: Target,
    readonly passthroughCluster: string,
    /** null = any destination. */
    readonly allowedDestinations: DestinationRule[] | null,
  ) {}

  targetFor(p: Protocol): Target {
    return this.targets[<i32>p];
  }
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class SnifferConfigParse {
  constructor(public config: SnifferConfig | null, public error: string) {}
  get ok(): bool {
    return this.error.length == 0;
  }
}

const ERROR_PREFIX = "sniffer: invalid configuration: ";

function invalid(why: string): SnifferConfigParse {
  return new SnifferConfigParse(null, ERROR_PREFIX + why);
}

/** Protocol for a name from the contract's list ("http/1.1", "redis", "tcp"), or -1. */
export function protocolFromName(name: string): i32 {
  for (let i = 0; i < PROTOCOL_COUNT; i++) {
    if (protocolName(<Protocol>i) == name) return i;
  }
  return -1;
}

function protocolList(): string {
  let s = "";
  for (let i = 0; i < PROTOCOL_COUNT; i++) {
    if (i > 0) s += ", ";
    s += protocolName(<Protocol>i);
  }
  return s;
}

/** Accumulates one field error; the first error wins. */
class Fields {
  error: string = "";

  fail(why: string): void {
    if (this.error.length == 0) this.error = why;
  }

  int(v: JsonValue, field: string, lo: i32, hi: i32): i32 {
    if (v.kind != JsonKind.Number || v.num != Math.floor(v.num) || v.num < <f64>lo || v.num > <f64>hi) {
      this.fail("\"" + field + "\" must be an integer " + lo.toString() + ".." + hi.toString() + ", found " + show(v));
      return lo;
    }
    return <i32>v.num;
  }

  str(v: JsonValue, field: string): string {
    if (v.kind != JsonKind.String || v.str.length == 0) {
      this.fail("\"" + field + "\" must be a non-empty string, found " + show(v));
      return "";
    }
    return v.str;
  }
}

function show(v: JsonValue): string {
  switch (v.kind) {
    case JsonKind.String: return "\"" + v.str + "\"";
    // AssemblyScript prints f64 1 as "1.0"; configuration authors wrote "1".
    case JsonKind.Number: return v.num == Math.floor(v.num) && Math.abs(v.num) < 1e15 ? (<i64>v.num).toString() : v.num.toString();
    case JsonKind.Bool: return v.bool ? "true" : "false";
    default: return kindName(v.kind);
  }
}

/** Prometheus metric names allow [a-zA-Z0-9_]; Envoy drops a custom stat that is not. */
function validStatPrefix(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
    if (!ok) return false;
  }
  return true;
}

function targetOf(f: Fields, v: JsonValue, field: string, passthroughCluster: string): Target {
  const s = f.str(v, field);
  if (s == TARGET_PASSTHROUGH) return new Target(TargetKind.Passthrough, passthroughCluster);
  if (s == TARGET_DENY) return new Target(TargetKind.Deny, "");
  return new Target(TargetKind.Cluster, s);
}

function parseDestinations(f: Fields, v: JsonValue): DestinationRule[] {
  const out = new Array<DestinationRule>();
  if (v.kind != JsonKind.Array) {
    f.fail("\"allowed_destinations\" must be an array of {\"cidr\", \"ports\"} objects, found " + show(v));
    return out;
  }
  for (let i = 0; i < v.items.length; i++) {
    const name = "allowed_destinations[" + i.toString() + "]";
    const item = v.items[i];
    if (item.kind != JsonKind.Object) {
      f.fail("\"" + name + "\" must be an object with \"cidr\" and optional \"ports\", found " + show(item));
      return out;
    }
    let cidrText = "";
    const ports = new Array<PortRange>();
    for (let k = 0; k < item.keys.length; k++) {
      const key = item.keys[k];
      const val = item.values[k];
      if (key == "cidr") {
        cidrText = f.str(val, name + ".cidr");
      } else if (key == "ports") {
        if (val.kind != JsonKind.Array) {
          f.fail("\"" + name + ".ports\" must be an array of ports or \"lo-hi\" ranges, found " + show(val));
          return out;
        }
        for (let j = 0; j < val.items.length; j++) {
          const pf = name + ".ports[" + j.toString() + "]";
          const pv = val.items[j];
          if (pv.kind == JsonKind.Number) {
            const n = f.int(pv, pf, 1, 65535);
            ports.push(new PortRange(n, n));
          } else if (pv.kind == JsonKind.String) {
            const r = parsePortRange(pv.str);
            if (r === null) {
              f.fail("\"" + pf + "\" must be a port 1..65535 or a range \"lo-hi\", found " + show(pv));
              return out;
            }
            ports.push(r);
          } else {
            f.fail("\"" + pf + "\" must be a port 1..65535 or a range \"lo-hi\", found " + show(pv));
            return out;
          }
        }
      } else {
        f.fail("unknown field \"" + name + "." + key + "\"");
        return out;
      }
    }
    if (f.error.length > 0) return out;
    if (cidrText.length == 0) {
      f.fail("\"" + name + ".cidr\" is required");
      return out;
    }
    const c = parseCidr(cidrText);
    if (c === null) {
      f.fail("\"" + name + ".cidr\" must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8, found \"" + cidrText + "\"");
      return out;
    }
    out.push(new DestinationRule(c, ports));
  }
  return out;
}

/** Empty or whitespace-only configuration means all defaults. */
export function parseSnifferConfig(text: string): SnifferConfigParse {
  let mode = DEFAULTS.MODE;
  let maxDetect = DEFAULTS.MAX_DETECT_BYTES;
  let maxTls = DEFAULTS.MAX_TLS_BYTES;
  let timeout = DEFAULTS.DETECT_TIMEOUT_MS;
  let statPrefix = DEFAULTS.STAT_PREFIX;
  let passthrough = DEFAULTS.PASSTHROUGH_CLUSTER;
  let routes: JsonValue | null = null;
  let defaultRoute: JsonValue | null = null;
  let allowed: DestinationRule[] | null = null;
  const f = new Fields();

  if (text.trim().length > 0) {
    const p = parseJson(text);
    if (!p.ok) return invalid(p.message());
    const v = p.value!;
    if (v.kind != JsonKind.Object) return invalid("expected a JSON object, found " + kindName(v.kind));
    for (let i = 0; i < v.keys.length; i++) {
      const key = v.keys[i];
      const value = v.values[i];
      if (key == "mode") {
        const s = value.kind == JsonKind.String ? value.str : "";
        if (s == "route") mode = Mode.Route;
        else if (s == "bypass") mode = Mode.Bypass;
        else if (s == "observe") mode = Mode.Observe;
        else f.fail("\"mode\" must be one of route, bypass, observe, found " + show(value));
      } else if (key == "max_detect_bytes") {
        maxDetect = f.int(value, key, 1, MAX_BYTES_LIMIT);
      } else if (key == "max_tls_bytes") {
        maxTls = f.int(value, key, 1, MAX_BYTES_LIMIT);
      } else if (key == "detect_timeout_ms") {
        timeout = f.int(value, key, 0, MAX_TIMEOUT_MS);
      } else if (key == "stat_prefix") {
        statPrefix = f.str(value, key);
        if (f.error.length == 0 && !validStatPrefix(statPrefix)) {
          f.fail("\"stat_prefix\" must contain only letters, digits and '_', found \"" + statPrefix + "\"");
        }
      } else if (key == "routes") {
        if (value.kind != JsonKind.Object) f.fail("\"routes\" must be an object mapping protocol → target, found " + show(value));
        else routes = value;
      } else if (key == "default_route") {
        defaultRoute = value;
      } else if (key == "passthrough_cluster") {
        passthrough = f.str(value, key);
      } else if (key == "allowed_destinations") {
        allowed = parseDestinations(f, value);
      } else {
        f.fail("unknown field \"" + key + "\"");
      }
      if (f.error.length > 0) return invalid(f.error);
    }
  }

  // Targets are resolved after the loop so that passthrough_cluster may come after routes.
  let def = new Target(TargetKind.Passthrough, passthrough);
  if (defaultRoute !== null) def = targetOf(f, defaultRoute, "default_route", passthrough);
  if (f.error.length > 0) return invalid(f.error);
  const targets = new StaticArray<Target>(PROTOCOL_COUNT);
  for (let i = 0; i < PROTOCOL_COUNT; i++) targets[i] = def;
  if (routes !== null) {
    const r = routes;
    for (let i = 0; i < r.keys.length; i++) {
      const key = r.keys[i];
      const proto = protocolFromName(key);
      if (proto < 0) {
        return invalid("unknown protocol \"" + key + "\" in \"routes\" (known: " + protocolList() + ")");
      }
      targets[proto] = targetOf(f, r.values[i], "routes." + key, passthrough);
      if (f.error.length > 0) return invalid(f.error);
    }
  }
  return new SnifferConfigParse(
    new SnifferConfig(mode, maxDetect, maxTls, timeout, statPrefix, targets, def, passthrough, allowed), "");
}
