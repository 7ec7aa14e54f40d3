// sniffer configuration: JSON bytes → a typed config. Pure code. The defaults and limits live in
// ./facts.ts (shared with the controller) and are gathered in DEFAULTS; every error names the
// field ("routes.redis", "allowed_destinations[1].ports[0]") and the value found. Field kinds
// (stat prefix, cluster name, CIDR, port range, duration, byte size) are checked by the
// runtime's one validator per kind (../../runtime/fields).
import { JsonKind, JsonValue, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields, toPortRange } from "../../runtime/fields";
import { Protocol, PROTOCOL_COUNT, protocolName } from "../../codecs/detect/result";
import { PROTOCOL_NAMES } from "../../codecs/detect/protocols";
import { DestinationRule, PortRange } from "../../runtime/net/cidr";
import * as facts from "./facts";

export const enum Mode {
  Observe = 0,
  Route = 1,
  Bypass = 2,
}

export function modeName(m: Mode): string {
  return facts.MODE_NAMES[<i32>m];
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

/** The defaults (./facts.ts; README "Configuration" mirrors them). */
export namespace DEFAULTS {
  export const MODE: Mode = Mode.Observe;
  export const MAX_DETECT_BYTES: i32 = facts.DEFAULT_MAX_DETECT_BYTES;
  export const MAX_TLS_BYTES: i32 = facts.DEFAULT_MAX_TLS_BYTES;
  export const DETECT_TIMEOUT_MS: i32 = facts.DEFAULT_DETECT_TIMEOUT_MS;
  export const STAT_PREFIX: string = facts.DEFAULT_STAT_PREFIX;
  export const DEFAULT_ROUTE: string = facts.DEFAULT_ROUTE;
  export const PASSTHROUGH_CLUSTER: string = facts.DEFAULT_PASSTHROUGH_CLUSTER;
}

/** Bounds: a detector never needs more than Envoy tls_inspector's 16 KiB ClientHello limit. */
export const MAX_BYTES_LIMIT: i32 = facts.MAX_BYTES_LIMIT;
/** One hour; keeps the tick arithmetic far from overflow. */
export const MAX_TIMEOUT_MS: i32 = facts.MAX_TIMEOUT_MS;

/** The top-level fields, for "unknown field" errors (controller/config/sniffer.ts lists the same). */
const KNOWN_FIELDS = "mode, max_detect_bytes, max_tls_bytes, detect_timeout_ms, stat_prefix, routes, default_route, " +
  "passthrough_cluster, allowed_destinations";

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

/** A route target: "passthrough", "deny" or a cluster name. */
function targetOf(f: Fields, v: JsonValue, field: string, passthroughCluster: string): Target {
  const s = f.clusterName(v, field);
  if (s == facts.TARGET_PASSTHROUGH) return new Target(TargetKind.Passthrough, passthroughCluster);
  if (s == facts.TARGET_DENY) return new Target(TargetKind.Deny, "");
  return new Target(TargetKind.Cluster, s);
}

function parseDestinations(f: Fields, v: JsonValue): DestinationRule[] {
  const out = new Array<DestinationRule>();
  if (!f.list(v, "allowed_destinations", "{\"cidr\", \"ports\"} objects")) return out;
  for (let i = 0; i < v.items.length; i++) {
    const name = "allowed_destinations[" + i.toString() + "]";
    const item = v.items[i];
    if (!f.object(item, name, "with \"cidr\" and optional \"ports\"")) return out;
    let cidr: JsonValue | null = null;
    const ports = new Array<PortRange>();
    for (let k = 0; k < item.keys.length; k++) {
      const key = item.keys[k];
      const val = item.values[k];
      if (key == "cidr") {
        cidr = val;
      } else if (key == "ports") {
        if (!f.list(val, name + ".ports", "ports or \"lo-hi\" ranges")) return out;
        for (let j = 0; j < val.items.length; j++) {
          const r = toPortRange(val.items[j]);
          if (r === null) {
            f.portRange(val.items[j], name + ".ports[" + j.toString() + "]");
            return out;
          }
          ports.push(r);
        }
      } else {
        f.unknown(name + "." + key, "cidr, ports");
        return out;
      }
    }
    if (cidr === null) {
      f.fail("\"" + name + ".cidr\" is required");
      return out;
    }
    const c = f.cidr(cidr, name + ".cidr");
    if (c === null) return out;
    out.push(new DestinationRule(c, ports));
  }
  return out;
}

/** Parses `text` (as UTF-8); see parseSnifferConfigBytes. */
export function parseSnifferConfig(text: string): SnifferConfigParse {
  return parseSnifferConfigBytes(String.UTF8.encode(text));
}

/** The plugin configuration's bytes; empty or whitespace-only means all defaults. */
export function parseSnifferConfigBytes(bytes: ArrayBuffer): SnifferConfigParse {
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

  if (!isBlank(bytes)) {
    const p = parseJsonBytes(bytes);
    if (!p.ok) return invalid(p.message());
    const v = p.value!;
    if (v.kind != JsonKind.Object) return invalid("expected a JSON object, found " + kindName(v.kind));
    for (let i = 0; i < v.keys.length; i++) {
      const key = v.keys[i];
      const value = v.values[i];
      if (key == "mode") {
        const m = f.oneOf(value, key, facts.MODE_NAMES);
        if (m >= 0) mode = <Mode>m;
      } else if (key == "max_detect_bytes") {
        maxDetect = f.byteSize(value, key, 1, MAX_BYTES_LIMIT);
      } else if (key == "max_tls_bytes") {
        maxTls = f.byteSize(value, key, 1, MAX_BYTES_LIMIT);
      } else if (key == "detect_timeout_ms") {
        timeout = f.durationMs(value, key, 0, MAX_TIMEOUT_MS);
      } else if (key == "stat_prefix") {
        statPrefix = f.statPrefix(value, key);
      } else if (key == "routes") {
        if (f.object(value, key, "mapping protocol names to targets")) routes = value;
      } else if (key == "default_route") {
        defaultRoute = value;
      } else if (key == "passthrough_cluster") {
        passthrough = f.clusterName(value, key);
      } else if (key == "allowed_destinations") {
        allowed = parseDestinations(f, value);
      } else {
        f.unknown(key, KNOWN_FIELDS);
      }
      if (!f.ok) return invalid(f.error);
    }
  }

  // Targets are resolved after the loop so that passthrough_cluster may come after routes.
  let def = new Target(TargetKind.Passthrough, passthrough);
  if (defaultRoute !== null) def = targetOf(f, defaultRoute, "default_route", passthrough);
  if (!f.ok) return invalid(f.error);
  const targets = new StaticArray<Target>(PROTOCOL_COUNT);
  for (let i = 0; i < PROTOCOL_COUNT; i++) targets[i] = def;
  if (routes !== null) {
    const r = routes;
    for (let i = 0; i < r.keys.length; i++) {
      const key = r.keys[i];
      const proto = protocolFromName(key);
      if (proto < 0) {
        return invalid("unknown protocol \"" + key + "\" in \"routes\" (known: " + PROTOCOL_NAMES.join(", ") + ")");
      }
      targets[proto] = targetOf(f, r.values[i], "routes." + key, passthrough);
      if (!f.ok) return invalid(f.error);
    }
  }
  return new SnifferConfigParse(
    new SnifferConfig(mode, maxDetect, maxTls, timeout, statPrefix, targets, def, passthrough, allowed), "");
}
