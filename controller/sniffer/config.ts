/**
 * The sniffer's plugin configuration (docs/design/sniffer-contract.md, "Filter"), checked at render
 * time so a bad field fails here, in the filter's own words, instead of in Envoy's canary VM
 * (`on_configure` → false rejects the whole listener).
 *
 * The field rules are the filter's (controller/config/sniffer.ts); the modes, defaults, limits and
 * protocol names are read from the one copy the filter compiles too
 * (assembly/filters/sniffer/facts.ts, assembly/codecs/detect/protocols.ts). The rendered JSON
 * carries only the fields the caller set (plus `mode`), so the filter applies the other defaults.
 */
import { PROTOCOL_NAMES } from "../../assembly/codecs/detect/protocols.js";
import * as facts from "../../assembly/filters/sniffer/facts.js";
import { checkConfiguration } from "../config/index.js";

export type SnifferMode = "route" | "bypass" | "observe";
/** The modes (assembly/filters/sniffer/facts.ts MODE_NAMES). */
export const SNIFFER_MODES: readonly SnifferMode[] = facts.MODE_NAMES as SnifferMode[];

export type SnifferProtocol =
  | "tcp" | "http/1.1" | "h2c" | "tls" | "dubbo" | "thrift" | "redis" | "postgres" | "mysql" | "kafka" | "mqtt" | "amqp";
/** Protocol names: keys of `routes`, values in filter state and metrics (assembly/codecs/detect/protocols.ts). */
export const SNIFFER_PROTOCOLS: readonly SnifferProtocol[] = PROTOCOL_NAMES as SnifferProtocol[];

/** The filter's defaults (assembly/filters/sniffer/facts.ts). */
export const SNIFFER_DEFAULTS = {
  mode: facts.DEFAULT_MODE as SnifferMode,
  max_detect_bytes: facts.DEFAULT_MAX_DETECT_BYTES,
  max_tls_bytes: facts.DEFAULT_MAX_TLS_BYTES,
  detect_timeout_ms: facts.DEFAULT_DETECT_TIMEOUT_MS,
  stat_prefix: facts.DEFAULT_STAT_PREFIX,
  default_route: facts.DEFAULT_ROUTE,
  passthrough_cluster: facts.DEFAULT_PASSTHROUGH_CLUSTER,
} as const;

/** A route target: a cluster name, `"passthrough"` (the original destination) or `"deny"`. */
export type SnifferTarget = string;

export interface AllowedDestination {
  /** IPv4 or IPv6 network, e.g. `10.0.0.0/8`. */
  readonly cidr: string;
  /** Ports or inclusive ranges (`"8000-8100"`); absent = any port. */
  readonly ports?: readonly (number | string)[];
}

/** The configuration as JSON fields (snake_case, as the filter reads them). */
export interface SnifferConfig {
  /** @default "observe" */
  readonly mode?: SnifferMode;
  /** @default 64 */
  readonly max_detect_bytes?: number;
  /** @default 16384 */
  readonly max_tls_bytes?: number;
  /** @default 1000 */
  readonly detect_timeout_ms?: number;
  /** @default "sniffer" */
  readonly stat_prefix?: string;
  readonly routes?: Readonly<Partial<Record<SnifferProtocol, SnifferTarget>>>;
  /** @default "passthrough" */
  readonly default_route?: SnifferTarget;
  /** @default "PassthroughCluster" */
  readonly passthrough_cluster?: string;
  readonly allowed_destinations?: readonly AllowedDestination[];
}

/** The filter's bounds (assembly/filters/sniffer/facts.ts). */
export const MAX_BYTES_LIMIT = facts.MAX_BYTES_LIMIT;
export const MAX_TIMEOUT_MS = facts.MAX_TIMEOUT_MS;

/** Thrown for a configuration the filter would reject (or that cannot work in its mode). */
export class SnifferConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid sniffer configuration: ${problems.join("; ")}`);
    this.name = "SnifferConfigError";
  }
}

/** Fields that only mean something in one mode; setting them elsewhere is a mistake, not a no-op. */
const MODE_ONLY: Readonly<Record<string, SnifferMode>> = {
  routes: "route",
  default_route: "route",
  allowed_destinations: "bypass",
};

/**
 * Validates `input` for `mode` and returns the configuration to render: the caller's fields with
 * `mode` set. Throws SnifferConfigError naming every bad field.
 */
export function snifferConfig(mode: SnifferMode, config: SnifferConfig | Readonly<Record<string, unknown>> = {}): SnifferConfig {
  const input = config as Readonly<Record<string, unknown>>;
  const problems = checkConfiguration("sniffer", input);
  if (typeof input["mode"] === "string" && (SNIFFER_MODES as readonly string[]).includes(input["mode"]) && input["mode"] !== mode) {
    problems.push(`"mode" is ${JSON.stringify(input["mode"])} but the deployment renders mode ${mode}; drop "mode" from the configuration or render mode ${String(input["mode"])}`);
  }
  for (const [field, only] of Object.entries(MODE_ONLY)) {
    if (input[field] !== undefined && only !== mode) {
      problems.push(`"${field}" applies only to mode ${only}; remove it for mode ${mode}`);
    }
  }
  if (problems.length > 0) throw new SnifferConfigError(problems);
  return { ...(input as SnifferConfig), mode };
}

/** The value of a field after the filter's defaults. */
export function effective<K extends keyof typeof SNIFFER_DEFAULTS>(config: SnifferConfig, key: K): NonNullable<SnifferConfig[K]> | (typeof SNIFFER_DEFAULTS)[K] {
  return (config[key] ?? SNIFFER_DEFAULTS[key]) as NonNullable<SnifferConfig[K]> | (typeof SNIFFER_DEFAULTS)[K];
}

/**
 * The clusters a route-mode configuration can send to: every cluster-name target, plus the
 * passthrough cluster when any target (or the default route) is `passthrough`.
 */
export function routedClusters(config: SnifferConfig): string[] {
  if (config.mode !== "route") return [];
  const targets = [...Object.values(config.routes ?? {}), effective(config, "default_route")];
  const out = new Set<string>();
  for (const t of targets) {
    if (t === "deny") continue;
    out.add(t === "passthrough" ? effective(config, "passthrough_cluster") : t);
  }
  return [...out];
}
