/**
 * Envoy's network RBAC filter (`envoy.filters.network.rbac`,
 * envoy.extensions.filters.network.rbac.v3.RBAC) for the emulator's filter chains, for the subset
 * the controller renders (controller/sniffer/rbac.ts). Add it to a chain like any other
 * NetworkFilterSource: `filters: [rbacNetworkFilter(typedConfig), …]`.
 *
 * Copied from envoyproxy/envoy:
 * - source/extensions/filters/network/rbac/rbac_filter.h/.cc: `onNewConnection` returns Continue
 *   and decides nothing; `onData` evaluates the engine on the first data
 *   (ONE_TIME_ON_FIRST_BYTE, the default, caches the result) or on every data (CONTINUOUS);
 *   allowed → Continue; denied → `connection().close(NoFlush, "rbac_deny_close")` and
 *   StopIteration, so nothing reaches the filters after it and no byte is written back; no
 *   `rules` → no engine → Continue without counting. So a client that never sends a byte is not
 *   judged (server-first protocols: the filters after RBAC, tcp_proxy included, have already run
 *   their onNewConnection).
 * - stats (source/extensions/filters/common/rbac/utility.cc generateStats):
 *   `statPrefixJoin(stat_prefix, "rbac.")` + `allowed` / `denied` (statPrefixJoin adds a `.`
 *   only when the prefix does not end in one).
 * - the engine (source/extensions/filters/common/rbac/engine_impl.cc): policies are a std::map,
 *   tried in name order; ALLOW allows when one matches, DENY denies when one matches, LOG allows;
 *   the first matching policy is the effective policy id, `none` when none matched
 *   (responseDetail: `rbac_access_denied_matched_policy[<id>]`).
 * - matchers (source/extensions/filters/common/rbac/matchers.cc): a policy matches when one of its
 *   permissions and one of its principals match; `any`, `and_rules`/`or_rules`/`not_rule`,
 *   `and_ids`/`or_ids`/`not_id`, `destination_port` (the connection's local port: the original
 *   destination), `destination_ip`, `direct_remote_ip` (the socket's peer) and `remote_ip` (the
 *   peer after proxy_protocol; the emulator has no proxy_protocol, so both are the peer). CIDR
 *   matching is CidrRange::isInRange (source/common/network/cidr_range.cc): same IP version,
 *   masked prefix compare;
 *   an IPv4-mapped IPv6 peer counts as IPv4 (Envoy's addressFromSockAddr on a dual-stack socket).
 * Not emulated (rejected when configured, so a test cannot silently rely on them): shadow rules,
 * the `matcher` tree, `delay_deny`, `authenticated`, `requested_server_name`, metadata,
 * filter-state and header matchers, port ranges, CEL conditions.
 */
import { isIP } from "node:net";
import type { ActiveReadFilter } from "./filter-manager.js";
import type { ConnectionInfo, FilterStatus, NetworkFilter, NetworkFilterFactory, ReadFilterCallbacks } from "./types.js";

export const RBAC_NETWORK_FILTER = "envoy.filters.network.rbac";
const TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

type Matcher = Readonly<Record<string, unknown>>;

interface Policy {
  readonly permissions: readonly Matcher[];
  readonly principals: readonly Matcher[];
}

interface Rules {
  readonly action: "ALLOW" | "DENY" | "LOG";
  /** Sorted by name, as Envoy's std::map. */
  readonly policies: ReadonlyArray<readonly [string, Policy]>;
}

export interface RbacDecision {
  readonly connectionId: bigint;
  readonly allowed: boolean;
  /** Effective policy id, `none` when no policy matched. */
  readonly policy: string;
}

/** The counters Envoy would export, by full name. */
export class RbacStats {
  private readonly values = new Map<string, number>();
  inc(name: string): void {
    this.values.set(name, (this.values.get(name) ?? 0) + 1);
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
}

/** Envoy's statPrefixJoin (source/common/common/utility.h). */
function statPrefixJoin(prefix: string, token: string): string {
  if (prefix === "") return token;
  return prefix.endsWith(".") ? prefix + token : `${prefix}.${token}`;
}

function fail(path: string, message: string): never {
  throw new Error(`${RBAC_NETWORK_FILTER}: ${path}: ${message}`);
}

function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(path, "expected an object");
  return value as Record<string, unknown>;
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${path}.${k}`, `not emulated (emulated: ${allowed.join(", ")})`);
  }
}

interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefixLen: number;
}

function ipBytes(host: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  const h = mapped !== null ? mapped[1]! : host.replace(/^\[(.*)\]$/, "$1");
  const family = isIP(h);
  if (family === 4) return { family: 4, bytes: Uint8Array.from(h.split(".").map(Number)) };
  if (family !== 6) return undefined;
  // isIP accepted it: expand a trailing dotted quad into two groups, then `::`.
  let t = h;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (quad !== null) {
    const [b0, b1, b2, b3] = quad.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, quad.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = t.split("::") as [string, string | undefined];
  const a = head === "" ? [] : head.split(":");
  const b = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...a, ...new Array<string>(tail === undefined ? 0 : 8 - a.length - b.length).fill("0"), ...b].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff; });
  return { family: 6, bytes };
}

function parseCidr(value: unknown, path: string): Cidr {
  const c = objectAt(value, path);
  onlyKeys(c, ["address_prefix", "prefix_len"], path);
  const addr = typeof c["address_prefix"] === "string" ? ipBytes(c["address_prefix"]) : undefined;
  if (addr === undefined) fail(`${path}.address_prefix`, `${JSON.stringify(c["address_prefix"])} is not an IP address`);
  const len = c["prefix_len"] ?? 0;
  if (typeof len !== "number" || !Number.isInteger(len) || len < 0 || len > 128) fail(`${path}.prefix_len`, "must be an integer in [0, 128]");
  // CidrRange::create → truncateIpAddressAndLength clamps the length to the address size
  // (source/common/network/cidr_range.cc).
  return { ...addr, prefixLen: Math.min(len, addr.family === 4 ? 32 : 128) };
}

function inRange(cidr: Cidr, host: string): boolean {
  const ip = ipBytes(host);
  if (ip === undefined || ip.family !== cidr.family) return false;
  let bits = cidr.prefixLen;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip.bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

type Compiled = (info: ConnectionInfo) => boolean;

function setOf(value: unknown, key: "rules" | "ids", path: string, each: (v: unknown, p: string) => Compiled): Compiled[] {
  const s = objectAt(value, path);
  onlyKeys(s, [key], path);
  const list = s[key];
  if (!Array.isArray(list) || list.length === 0) fail(`${path}.${key}`, "must be a non-empty list");
  return list.map((v, i) => each(v, `${path}.${key}[${i}]`));
}

function oneKey(value: unknown, path: string): [string, unknown] {
  const m = objectAt(value, path);
  const keys = Object.keys(m);
  if (keys.length !== 1) fail(path, `exactly one rule per matcher, found ${keys.length ? keys.join(", ") : "none"}`);
  return [keys[0]!, m[keys[0]!]];
}

/**
 * The matchers Permission and Principal share (rbac.proto): `any`, and `and_<list>` / `or_<list>`
 * (a Set with one `<list>` field) and `not_<one>` over matchers of the same kind (`self`).
 */
function logical(key: string, v: unknown, p: string, list: "rules" | "ids", self: (value: unknown, path: string) => Compiled): Compiled {
  if (key === "any") {
    if (v !== true) fail(p, "must be true");
    return () => true;
  }
  if (key.startsWith("and_")) {
    const all = setOf(v, list, p, self);
    return (info) => all.every((m) => m(info));
  }
  if (key.startsWith("or_")) {
    const some = setOf(v, list, p, self);
    return (info) => some.some((m) => m(info));
  }
  const inner = self(v, p);
  return (info) => !inner(info);
}

function permission(value: unknown, path: string): Compiled {
  const [key, v] = oneKey(value, path);
  const p = `${path}.${key}`;
  switch (key) {
    case "any":
    case "and_rules":
    case "or_rules":
    case "not_rule":
      return logical(key, v, p, "rules", permission);
    case "destination_port": {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) fail(p, "must be a port in [0, 65535]");
      return (info) => info.destination.port === v;
    }
    case "destination_ip": {
      const c = parseCidr(v, p);
      return (info) => inRange(c, info.destination.host);
    }
    default:
      return fail(p, "permission not emulated (emulated: any, and_rules, or_rules, not_rule, destination_port, destination_ip)");
  }
}

function principal(value: unknown, path: string): Compiled {
  const [key, v] = oneKey(value, path);
  const p = `${path}.${key}`;
  switch (key) {
    case "any":
    case "and_ids":
    case "or_ids":
    case "not_id":
      return logical(key, v, p, "ids", principal);
    case "direct_remote_ip":
    case "remote_ip": {
      const c = parseCidr(v, p);
      return (info) => inRange(c, info.source.host);
    }
    default:
      return fail(p, "principal not emulated (emulated: any, and_ids, or_ids, not_id, direct_remote_ip, remote_ip)");
  }
}

interface Engine {
  readonly action: Rules["action"];
  readonly policies: ReadonlyArray<readonly [string, Compiled]>;
}

function compileRules(value: unknown): Engine {
  const r = objectAt(value, "rules");
  onlyKeys(r, ["action", "policies"], "rules");
  const action = r["action"] ?? "ALLOW";
  if (action !== "ALLOW" && action !== "DENY" && action !== "LOG") fail("rules.action", `${JSON.stringify(action)} is not ALLOW, DENY or LOG`);
  const policies = objectAt(r["policies"] ?? {}, "rules.policies");
  const compiled = Object.keys(policies).sort().map((name) => {
    const path = `rules.policies[${JSON.stringify(name)}]`;
    const pol = objectAt(policies[name], path);
    onlyKeys(pol, ["permissions", "principals"], path);
    const perms = pol["permissions"];
    const princs = pol["principals"];
    if (!Array.isArray(perms) || perms.length === 0) fail(`${path}.permissions`, "must be a non-empty list");
    if (!Array.isArray(princs) || princs.length === 0) fail(`${path}.principals`, "must be a non-empty list");
    const pm = perms.map((v, i) => permission(v, `${path}.permissions[${i}]`));
    const pr = princs.map((v, i) => principal(v, `${path}.principals[${i}]`));
    const matches: Compiled = (info) => pm.some((m) => m(info)) && pr.some((m) => m(info));
    return [name, matches] as const;
  });
  return { action, policies: compiled };
}

/** RoleBasedAccessControlEngineImpl::handleAction: allowed, and the effective policy id. */
function evaluate(engine: Engine, info: ConnectionInfo): { allowed: boolean; policy: string } {
  const hit = engine.policies.find(([, m]) => m(info));
  const policy = hit?.[0] ?? "none";
  if (engine.action === "LOG") return { allowed: true, policy };
  return { allowed: engine.action === "ALLOW" ? hit !== undefined : hit === undefined, policy };
}

export interface RbacNetworkFilterFactory extends NetworkFilterFactory {
  readonly stats: RbacStats;
  /** `<stat_prefix>rbac.` as Envoy joins it. */
  readonly statsPrefix: string;
  /** One entry per evaluation, in order. */
  readonly decisions: readonly RbacDecision[];
}

/**
 * A network RBAC filter from its `typed_config` (the object under a chain filter's
 * `typed_config`, `@type` included or not). Throws naming the field for anything not emulated.
 */
export function rbacNetworkFilter(typedConfig: unknown): RbacNetworkFilterFactory {
  const cfg = objectAt(typedConfig, "typed_config");
  const type = cfg["@type"];
  if (type !== undefined && type !== TYPE_URL) fail("typed_config.@type", `${JSON.stringify(type)} is not ${TYPE_URL}`);
  onlyKeys(cfg, ["@type", "stat_prefix", "rules", "enforcement_type"], "typed_config");
  const statPrefix = cfg["stat_prefix"];
  if (typeof statPrefix !== "string" || statPrefix === "") fail("stat_prefix", "is required (min_len 1)");
  const enforcement = cfg["enforcement_type"] ?? "ONE_TIME_ON_FIRST_BYTE";
  if (enforcement !== "ONE_TIME_ON_FIRST_BYTE" && enforcement !== "CONTINUOUS") fail("enforcement_type", `${JSON.stringify(enforcement)} is not an EnforcementType`);
  const engine = cfg["rules"] === undefined ? undefined : compileRules(cfg["rules"]);
  const stats = new RbacStats();
  const prefix = statPrefixJoin(statPrefix, "rbac.");
  const decisions: RbacDecision[] = [];

  const create = (callbacks: ReadFilterCallbacks): NetworkFilter => {
    let result: "Unknown" | "Allow" | "Deny" = "Unknown";
    const check = (): void => {
      const { allowed, policy } = evaluate(engine!, callbacks.connection);
      stats.inc(prefix + (allowed ? "allowed" : "denied"));
      decisions.push({ allowed, connectionId: callbacks.connection.id, policy });
      result = allowed ? "Allow" : "Deny";
    };
    return {
      onNewConnection: (): FilterStatus => "Continue",
      onData: (): FilterStatus => {
        if (engine === undefined) return "Continue";
        if (enforcement === "CONTINUOUS" || result === "Unknown") check();
        if (result === "Allow") return "Continue";
        // connection().close(NoFlush, "rbac_deny_close"): the filter manager's close, not the
        // FlushWrite close that ReadFilterCallbacks exposes for wasm filters.
        const manager = (callbacks as Partial<ActiveReadFilter>).manager;
        if (manager !== undefined) manager.close("NoFlush");
        else callbacks.closeConnection();
        return "StopIteration";
      },
      onWrite: (): FilterStatus => "Continue",
      onEvent: (): void => {},
    };
  };
  return { create, decisions, name: RBAC_NETWORK_FILTER, stats, statsPrefix: prefix };
}
