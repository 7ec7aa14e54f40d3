/**
 * The sniffer's plugin configuration (docs/design/sniffer-contract.md, "Filter"), checked at render
 * time so a bad field fails here, naming the field, instead of in Envoy's canary VM
 * (`on_configure` → false rejects the whole listener).
 *
 * The schema mirrors the filter's field table; the filter's own assembly/filters/sniffer/config.ts
 * holds the defaults it applies, and SNIFFER_DEFAULTS below copies the ones the controller's
 * pairing rules depend on. The rendered JSON carries only the fields the caller set (plus `mode`),
 * so the filter stays the single source of the other defaults.
 */
import { isIP } from "node:net";
import { z } from "zod";

export const SNIFFER_MODES = ["route", "bypass", "observe"] as const;
export type SnifferMode = (typeof SNIFFER_MODES)[number];

/** Protocol names: keys of `routes`, values in filter state and metrics. */
export const SNIFFER_PROTOCOLS = [
  "http/1.1", "h2c", "tls", "dubbo", "thrift", "redis", "postgres", "mysql", "kafka", "mqtt", "amqp", "tcp",
] as const;
export type SnifferProtocol = (typeof SNIFFER_PROTOCOLS)[number];

/** Defaults of the filter that the controller reasons about (contract table). */
export const SNIFFER_DEFAULTS = {
  mode: "observe",
  max_detect_bytes: 64,
  max_tls_bytes: 16384,
  detect_timeout_ms: 1000,
  stat_prefix: "sniffer",
  default_route: "passthrough",
  passthrough_cluster: "PassthroughCluster",
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
  readonly mode?: SnifferMode;
  readonly max_detect_bytes?: number;
  readonly max_tls_bytes?: number;
  readonly detect_timeout_ms?: number;
  readonly stat_prefix?: string;
  readonly routes?: Readonly<Partial<Record<SnifferProtocol, SnifferTarget>>>;
  readonly default_route?: SnifferTarget;
  readonly passthrough_cluster?: string;
  readonly allowed_destinations?: readonly AllowedDestination[];
}

/** The filter's bounds (assembly/filters/sniffer/config.ts: MAX_BYTES_LIMIT, MAX_TIMEOUT_MS). */
export const MAX_BYTES_LIMIT = 16384;
export const MAX_TIMEOUT_MS = 3600000;
const target = z.string({ error: "must be a cluster name, \"passthrough\" or \"deny\"" })
  .min(1, { error: "must be a cluster name, \"passthrough\" or \"deny\" (got an empty string)" });

/** An address, optionally with a prefix length (a bare address is a /32 or /128), as the filter's cidr.ts parses it. */
function validCidr(cidr: string): boolean {
  const m = /^([^/]+)(?:\/(0|[1-9]\d{0,2}))?$/.exec(cidr);
  if (m === null) return false;
  const family = isIP(m[1]!);
  // "::ffff:10.0.0.0" spells an IPv4 range in IPv6: its prefix counts 128 bits.
  const bits = m[2] === undefined ? 0 : Number(m[2]);
  return family !== 0 && bits <= (family === 4 ? 32 : 128);
}

/** A port 1..65535, or a string "p" / "lo-hi" without leading zeros and with lo <= hi. */
function validPort(p: number | string): boolean {
  if (typeof p === "number") return Number.isInteger(p) && p >= 1 && p <= 65535;
  const m = /^([1-9]\d{0,4})(?:-([1-9]\d{0,4}))?$/.exec(p);
  if (m === null) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return hi <= 65535 && lo <= hi;
}

const schema = z.strictObject({
  mode: z.enum(SNIFFER_MODES, { error: `must be one of ${SNIFFER_MODES.join(", ")}` }).optional(),
  max_detect_bytes: z.int({ error: "must be an integer in [1, 16384]" }).min(1, { error: "must be an integer in [1, 16384]" })
    .max(16384, { error: "must be an integer in [1, 16384]" }).optional(),
  max_tls_bytes: z.int({ error: `must be an integer in [1, ${MAX_BYTES_LIMIT}]` }).min(1, { error: `must be an integer in [1, ${MAX_BYTES_LIMIT}]` })
    .max(MAX_BYTES_LIMIT, { error: `must be an integer in [1, ${MAX_BYTES_LIMIT}] (Envoy tls_inspector's ClientHello limit)` }).optional(),
  detect_timeout_ms: z.int({ error: `must be an integer in [0, ${MAX_TIMEOUT_MS}] (0 = no timeout)` })
    .min(0, { error: `must be an integer in [0, ${MAX_TIMEOUT_MS}] (0 = no timeout)` })
    .max(MAX_TIMEOUT_MS, { error: `must be an integer in [0, ${MAX_TIMEOUT_MS}] (at most one hour)` }).optional(),
  // The filter refuses anything but [A-Za-z0-9_]: Envoy's Prometheus output would rewrite other
  // characters to '_' (two prefixes could print as one metric) and '.', '=', ';' would cut into the
  // tag syntax; Envoy itself drops only empty or digit-led custom stat names (prometheus_stats.cc).
  stat_prefix: z.string({ error: "must be a non-empty string of letters, digits and '_'" })
    .regex(/^[A-Za-z0-9_]+$/, { error: "must contain only letters, digits and '_' (it becomes part of metric names)" }).optional(),
  routes: z.partialRecord(
    z.enum(SNIFFER_PROTOCOLS, { error: `keys must be protocol names: ${SNIFFER_PROTOCOLS.join(", ")}` }),
    target,
    { error: "must be an object mapping protocol names to targets" },
  ).optional(),
  default_route: target.optional(),
  passthrough_cluster: z.string({ error: "must be a cluster name" }).min(1, { error: "must be a non-empty cluster name" }).optional(),
  allowed_destinations: z.array(
    z.strictObject({
      cidr: z.string({ error: "is required: an IPv4 or IPv6 CIDR such as 10.0.0.0/8" })
        .refine(validCidr, { error: "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8" }),
      ports: z.array(z.union([z.number(), z.string()]), { error: "must be a list of ports or \"lo-hi\" ranges" })
        .refine((ps) => ps.every(validPort), { error: "must hold ports 1..65535 (numbers or strings) or ranges \"lo-hi\" with lo <= hi" }).optional(),
    }, { error: "must be an object { cidr, ports }" }),
    { error: "must be a list of { cidr, ports } objects" },
  ).optional(),
});

/** Thrown for a configuration the filter would reject (or that cannot work in its mode). */
export class SnifferConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid sniffer configuration: ${problems.join("; ")}`);
    this.name = "SnifferConfigError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out === "" ? String(seg) : `.${String(seg)}`;
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    if (issue.path.length === 1 && issue.path[0] === "routes") {
      return issue.keys.map((k) => `unknown protocol "${k}" in "routes"; protocols: ${SNIFFER_PROTOCOLS.join(", ")}`).join("; ");
    }
    const where = issue.path.length === 0 ? "" : ` in "${fieldPath(issue.path)}"`;
    const known = issue.path.length === 0 ? Object.keys(schema.shape).join(", ") : "cidr, ports";
    return issue.keys.map((k) => `unknown field "${k}"${where}; known fields: ${known}`).join("; ");
  }
  // An invalid record key reports the key as the last path segment.
  return `"${fieldPath(issue.path)}" ${issue.message}`;
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
  const parsed = schema.safeParse(input);
  const problems = parsed.success ? [] : parsed.error.issues.map(describe);
  if (typeof input["mode"] === "string" && (SNIFFER_MODES as readonly string[]).includes(input["mode"]) && input["mode"] !== mode) {
    problems.push(`"mode" is ${JSON.stringify(input["mode"])} but the deployment renders mode ${mode}; drop "mode" from the configuration or render mode ${String(input["mode"])}`);
  }
  for (const [field, only] of Object.entries(MODE_ONLY)) {
    if (input[field] !== undefined && only !== mode) {
      problems.push(`"${field}" applies only to mode ${only}; remove it for mode ${mode}`);
    }
  }
  if (problems.length > 0) throw new SnifferConfigError(problems);
  return { ...(parsed.data as SnifferConfig), mode };
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
