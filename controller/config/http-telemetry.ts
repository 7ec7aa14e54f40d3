/**
 * http-telemetry's plugin configuration schema: the filter's parser (assembly/filters/http-telemetry/
 * config.ts) read again in TypeScript, first problem first, in the filter's words, so `render` and
 * `validate` refuse what the filter's `on_configure` would. Attribute names, Istio's labels and the
 * handler kinds come from the files the filter compiles (assembly/telemetry/http-labels.ts).
 */
import { z } from "zod";
import { HTTP_ATTRIBUTES, HTTP_LABELS } from "../../assembly/telemetry/http-labels.js";
import { RULE_STAT_PREFIX, WHOLE, isStatPrefix, show } from "./fields.js";
import { OTLP_FIELDS, OTLP_FIELD_CHECKS, otlpSettingsProblem } from "./otlp.js";

export const HTTP_TELEMETRY_FIELDS = ["stat_prefix", "seed", "max_connections", "handlers", "rules"] as const;
export const HTTP_TELEMETRY_KINDS = ["prometheus", "accesslog", "denier", "list", "memquota", "otlp"] as const;
/** Check handlers: decided at request headers, so they may use only attributes known then. */
export const HTTP_TELEMETRY_CHECK_KINDS: readonly string[] = ["denier", "list", "memquota"];
export const HTTP_TELEMETRY_METRICS = ["auto", "prefixed", "istio"] as const;
export const HTTP_TELEMETRY_LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** The filter's limits (config.ts). */
export const HTTP_TELEMETRY_LIMITS = {
  maxConnections: 65536, handlers: 32, rules: 256, dimensions: 8, maxSeries: 100000, minLineBytes: 64, maxLineBytes: 1048576,
  messageChars: 1024, listEntries: 4096, maxAmount: 1000000000, validDurationMs: 86400000, maxKeys: 100000, keyAttributes: 8,
} as const;
/** Without `handlers`, the filter runs one prometheus handler of this name. */
export const HTTP_TELEMETRY_DEFAULT_HANDLER = "prometheus";

const PROMETHEUS_FIELDS = "name, kind, fail_open, sampling, metrics, max_series, dimensions";
const ACCESSLOG_FIELDS = "name, kind, fail_open, sampling, attributes, level, max_line_bytes";
const DENIER_FIELDS = "name, kind, fail_open, sampling, status_code, message";
const LIST_FIELDS = "name, kind, fail_open, sampling, attribute, entries, blacklist";
const MEMQUOTA_FIELDS = "name, kind, fail_open, sampling, max_amount, valid_duration_ms, key, max_keys";
const OTLP_HANDLER_FIELDS = `name, kind, fail_open, sampling, ${OTLP_FIELDS.join(", ")}, attributes, metric_names, max_series`;
const RULE_FIELDS = "name, match, handlers";
/** Not known at request headers (assembly/telemetry/rules.ts knownAtRequestHeaders). */
const LATE_ATTRIBUTES: readonly string[] = [
  "request.total_size", "response.code", "response.grpc_status", "response.duration", "response.total_size", "response.flags",
  "connection.received.bytes", "connection.sent.bytes", "connection.duration",
];
const EARLY = "must be an attribute known at request headers (not a response attribute or request.total_size)";
const RULE_NAME = "must be a name: 1 to 64 letters, digits or '_'";

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v: Json, lo: number, hi: number): boolean => typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
const isName = (v: Json): v is string => typeof v === "string" && /^[A-Za-z0-9_]{1,64}$/.test(v);

class Problem extends Error {}

function reject(field: string, rule: string, v: Json): never {
  throw new Problem(`"${field}" ${rule}, found ${show(v)}`);
}
function fail(why: string): never {
  throw new Problem(why);
}
function unknown(field: string, known: string): never {
  throw new Problem(`unknown field "${field}" (known: ${known})`);
}
function int(v: Json, field: string, what: string, lo: number, hi: number): void {
  if (!isInt(v, lo, hi)) reject(field, `must be ${what}, an integer ${lo}..${hi}`, v);
}
function oneOf(v: Json, field: string, names: readonly string[]): void {
  if (typeof v !== "string" || !names.includes(v)) reject(field, `must be one of ${names.join(", ")}`, v);
}
function list(v: Json, field: string, holding: string): Json[] {
  if (!Array.isArray(v)) reject(field, `must be an array of ${holding}`, v);
  return v as Json[];
}
function object(v: Json, field: string, holding: string): Record<string, Json> {
  if (!isObject(v)) reject(field, `must be an object ${holding}`, v);
  return v as Record<string, Json>;
}
/**
 * Header attributes: `request.headers.<name>` (Mixer's `request.headers` map): the HTTP request
 * header, Dubbo attachment or THeader header of that name (assembly/telemetry/request.ts).
 */
export const HEADER_ATTRIBUTE_PREFIX = "request.headers.";
/** Distinct header attributes one configuration may name (config.ts MAX_HEADER_ATTRIBUTES). */
export const MAX_HEADER_ATTRIBUTES = 8;
const HEADER_NAME = "must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters";
const ATTRIBUTE_NAMES = `${HTTP_ATTRIBUTES.join(", ")}, ${HEADER_ATTRIBUTE_PREFIX}<name>`;

/** The header attributes of the configuration being checked (reset by problemOf), in the order named. */
let headerNames: string[] = [];
let headerField = "";

/** True for a known attribute; a header one is recorded (or, when bad, refused naming `field`). */
function knownAttribute(name: string, field: string, v: Json | undefined): boolean {
  if (!name.startsWith(HEADER_ATTRIBUTE_PREFIX)) return HTTP_ATTRIBUTES.includes(name);
  const header = name.slice(HEADER_ATTRIBUTE_PREFIX.length);
  if (!/^[a-z0-9!#$%&'*+\-.^_`|~]{1,64}$/.test(header)) {
    if (v === undefined) fail(`"${field}" ${HEADER_NAME}`);
    reject(field, HEADER_NAME, v);
  }
  if (headerNames.includes(header)) return true;
  if (headerNames.length >= MAX_HEADER_ATTRIBUTES) {
    fail(`"${field}" is one header attribute too many: a configuration names at most ${MAX_HEADER_ATTRIBUTES} (and a VM 64 over its reconfigurations)`);
  }
  headerNames.push(header);
  if (headerField === "") headerField = field;
  return true;
}

/**
 * The first field naming a `request.headers.<name>` attribute in the configuration last checked
 * without a problem ("" when none): tcp-stats refuses it (a TCP connection has no headers).
 */
export function firstHeaderAttributeField(): string {
  return headerField;
}

function attribute(v: Json, field: string): void {
  if (typeof v !== "string" || !knownAttribute(v, field, v)) reject(field, `must be an attribute name (${ATTRIBUTE_NAMES})`, v);
}

function checkAttribute(v: Json, field: string): void {
  attribute(v, field);
  if (LATE_ATTRIBUTES.includes(v as string)) reject(field, EARLY, v);
}

/** denier, list and memquota fields; false when `key` is none of them. */
function checkPolicyField(kind: string, key: string, val: Json, field: string): boolean {
  if (kind === "denier" && key === "status_code") int(val, field, "an HTTP status", 400, 599);
  else if (kind === "denier" && key === "message") {
    if (typeof val !== "string" || val.length > HTTP_TELEMETRY_LIMITS.messageChars) reject(field, `must be a string of at most ${HTTP_TELEMETRY_LIMITS.messageChars} characters`, val);
  } else if (kind === "list" && key === "attribute") checkAttribute(val, field);
  else if (kind === "list" && key === "blacklist") {
    if (typeof val !== "boolean") reject(field, "must be true or false", val);
  } else if (kind === "list" && key === "entries") {
    const items = list(val, field, 'values or {"prefix": …}');
    if (items.length > HTTP_TELEMETRY_LIMITS.listEntries) reject(field, `must hold at most ${HTTP_TELEMETRY_LIMITS.listEntries} entries`, val);
    items.forEach((e, i) => {
      const ok = typeof e === "string" || (isObject(e) && Object.keys(e).length === 1 && typeof e["prefix"] === "string" && e["prefix"] !== "");
      if (!ok) reject(`${field}[${i}]`, 'must be a string (exact value) or {"prefix": "…"} (non-empty)', e);
    });
  } else if (kind === "memquota" && key === "max_amount") int(val, field, "a number of requests", 1, HTTP_TELEMETRY_LIMITS.maxAmount);
  else if (kind === "memquota" && key === "valid_duration_ms") int(val, field, "a duration in milliseconds", 1, HTTP_TELEMETRY_LIMITS.validDurationMs);
  else if (kind === "memquota" && key === "max_keys") int(val, field, "a number of keys", 1, HTTP_TELEMETRY_LIMITS.maxKeys);
  else if (kind === "memquota" && key === "key") {
    const items = list(val, field, "attribute names");
    if (items.length > HTTP_TELEMETRY_LIMITS.keyAttributes) reject(field, `must hold at most ${HTTP_TELEMETRY_LIMITS.keyAttributes} attributes`, val);
    items.forEach((a, i) => checkAttribute(a, `${field}[${i}]`));
  } else return false;
  return true;
}

const POLICY_FIELDS: Record<string, string> = { denier: DENIER_FIELDS, list: LIST_FIELDS, memquota: MEMQUOTA_FIELDS };

function attributeList(val: Json, field: string): void {
  const items = list(val, field, "attribute names");
  if (items.length === 0) reject(field, "needs at least one attribute", val);
  items.forEach((a, i) => attribute(a, `${field}[${i}]`));
}

/** The otlp handler's fields: the export fields (./otlp.ts), then its own. */
function checkOtlpField(key: string, val: Json, field: string): void {
  const check = Object.hasOwn(OTLP_FIELD_CHECKS, key) ? OTLP_FIELD_CHECKS[key] : undefined;
  if (check !== undefined) {
    const why = check(val);
    if (why !== null) fail(`"${field}" ${why}`);
  } else if (key === "attributes") attributeList(val, field);
  else if (key === "metric_names") oneOf(val, field, HTTP_TELEMETRY_METRICS);
  else if (key === "max_series") int(val, field, "a number of label sets", 1, HTTP_TELEMETRY_LIMITS.maxSeries);
  else unknown(field, OTLP_HANDLER_FIELDS);
}

function checkHandler(v: Json, at: string): string {
  const h = object(v, at, "{name, kind, …}");
  if (h["name"] === undefined) fail(`"${at}.name" is required`);
  if (!isName(h["name"])) reject(`${at}.name`, RULE_NAME, h["name"]);
  if (h["kind"] === undefined) fail(`"${at}.kind" is required`);
  oneOf(h["kind"], `${at}.kind`, HTTP_TELEMETRY_KINDS);
  const kind = h["kind"] as string;
  const prometheus = kind === "prometheus";
  const policy = HTTP_TELEMETRY_CHECK_KINDS.includes(kind);
  for (const [key, val] of Object.entries(h)) {
    const field = `${at}.${key}`;
    if (key === "name" || key === "kind") continue;
    if (key === "fail_open") {
      if (typeof val !== "boolean") reject(field, "must be true or false", val);
    } else if (key === "sampling") {
      if (typeof val !== "number" || val < 0 || val > 100) reject(field, "must be a percentage 0..100", val);
    } else if (policy) {
      if (!checkPolicyField(kind, key, val, field)) unknown(field, POLICY_FIELDS[kind]!);
    } else if (kind === "otlp") {
      checkOtlpField(key, val, field);
    } else if (prometheus && key === "metrics") {
      oneOf(val, field, HTTP_TELEMETRY_METRICS);
    } else if (prometheus && key === "max_series") {
      int(val, field, "a number of label sets", 1, HTTP_TELEMETRY_LIMITS.maxSeries);
    } else if (prometheus && key === "dimensions") {
      const dims = object(val, field, "mapping label names to attribute names");
      const labels = Object.keys(dims);
      if (labels.length > HTTP_TELEMETRY_LIMITS.dimensions) reject(field, `must hold at most ${HTTP_TELEMETRY_LIMITS.dimensions} labels`, val);
      for (const label of labels) {
        if (!/^[a-z_][a-z0-9_]{0,63}$/.test(label) || HTTP_LABELS.includes(label)) {
          fail(`"${field}" label ${label} must be a new Prometheus label name ([a-z_][a-z0-9_]*, not one of Istio's)`);
        }
        attribute(dims[label], `${field}.${label}`);
      }
    } else if (!prometheus && key === "attributes") {
      attributeList(val, field);
    } else if (!prometheus && key === "level") {
      oneOf(val, field, HTTP_TELEMETRY_LOG_LEVELS);
    } else if (!prometheus && key === "max_line_bytes") {
      int(val, field, "a size in bytes", HTTP_TELEMETRY_LIMITS.minLineBytes, HTTP_TELEMETRY_LIMITS.maxLineBytes);
    } else {
      unknown(field, prometheus ? PROMETHEUS_FIELDS : ACCESSLOG_FIELDS);
    }
  }
  if (kind === "list" && h["attribute"] === undefined) fail(`"${at}.attribute" is required`);
  if (kind === "list" && h["entries"] === undefined) fail(`"${at}.entries" is required`);
  if (kind === "memquota" && h["max_amount"] === undefined) fail(`"${at}.max_amount" is required`);
  if (kind === "otlp") {
    const why = otlpSettingsProblem(h, at);
    if (why !== null) fail(why);
    if (h["logs"] === false && h["metrics"] === false) fail(`"${at}" exports nothing: logs and metrics are both false`);
  }
  return h["name"] as string;
}

function checkCondition(v: Json, field: string): void {
  const c = object(v, field, "{exact|prefix|present}");
  const keys = Object.keys(c);
  if (keys.length !== 1) reject(field, "must hold exactly one of exact, prefix, present", v);
  const k = keys[0]!;
  const s = c[k];
  if (!["exact", "prefix", "present"].includes(k)) unknown(`${field}.${k}`, "exact, prefix, present");
  if (k === "present") {
    if (s !== true) reject(`${field}.present`, "must be true", s);
    return;
  }
  const text = typeof s === "string" ? s : isInt(s, 0, Number.MAX_SAFE_INTEGER) ? String(s) : reject(`${field}.${k}`, "must be a string", s);
  if (k === "prefix" && text === "") reject(`${field}.prefix`, "must be a non-empty string", s);
}

function checkRule(v: Json, at: string, handlers: readonly string[], checks: ReadonlySet<string>): void {
  const r = object(v, at, `{${RULE_FIELDS}}`);
  for (const [key, val] of Object.entries(r)) {
    const field = `${at}.${key}`;
    if (key === "name") {
      if (!isName(val)) reject(field, RULE_NAME, val);
    } else if (key === "match") {
      const m = object(val, field, "mapping attribute names to {exact|prefix|present}");
      for (const [name, cond] of Object.entries(m)) {
        if (!knownAttribute(name, `${field}.${name}`, undefined)) unknown(`${field}.${name}`, ATTRIBUTE_NAMES);
        checkCondition(cond, `${field}.${name}`);
      }
    } else if (key === "handlers") {
      const items = list(val, field, "handler names");
      if (items.length === 0) reject(field, "needs at least one handler", val);
      items.forEach((h, i) => {
        if (typeof h !== "string" || !handlers.includes(h)) reject(`${field}[${i}]`, `must name a handler (${handlers.join(", ")})`, h);
      });
    } else {
      unknown(field, RULE_FIELDS);
    }
  }
  if (r["name"] === undefined) fail(`"${at}.name" is required`);
  if (r["handlers"] === undefined) fail(`"${at}.handlers" is required`);
  // A check handler decides at request headers: its rules may test only what is known then.
  for (const h of handlers) {
    if (!checks.has(h) || !(r["handlers"] as Json[]).includes(h)) continue;
    const late = Object.keys(isObject(r["match"]) ? r["match"] : {}).find((a) => LATE_ATTRIBUTES.includes(a));
    if (late !== undefined) fail(`rule "${r["name"] as string}" feeds check handler "${h}" (decided at request headers) but matches ${late}, known only at the end of the request`);
  }
}

/** `handlers` at `prefix` ("" or "telemetry."): their names and the check handlers among them. */
function checkHandlers(val: Json, prefix: string): { handlers: string[]; checks: Set<string> } {
  const key = `${prefix}handlers`;
  const items = list(val, key, "handlers");
  if (items.length === 0) reject(key, "needs at least one handler", val);
  if (items.length > HTTP_TELEMETRY_LIMITS.handlers) reject(key, `must hold at most ${HTTP_TELEMETRY_LIMITS.handlers} handlers`, val);
  const handlers: string[] = [];
  const checks = new Set<string>();
  for (const [i, h] of items.entries()) {
    const name = checkHandler(h, `${key}[${i}]`);
    if (handlers.includes(name)) fail(`"${key}[${i}].name" repeats handler "${name}"`);
    handlers.push(name);
    if (HTTP_TELEMETRY_CHECK_KINDS.includes((h as Record<string, Json>)["kind"] as string)) checks.add(name);
  }
  return { handlers, checks };
}

/** `rules` at `prefix`, read once every handler is known, wherever they stand (as the filter does). */
function checkRules(val: Json | undefined, prefix: string, handlers: readonly string[] | undefined, checks: ReadonlySet<string>): void {
  if (val === undefined) return;
  const key = `${prefix}rules`;
  const rules = list(val, key, "rules");
  if (rules.length > HTTP_TELEMETRY_LIMITS.rules) reject(key, `must hold at most ${HTTP_TELEMETRY_LIMITS.rules} rules`, val);
  rules.forEach((r, i) => checkRule(r, `${key}[${i}]`, handlers ?? [HTTP_TELEMETRY_DEFAULT_HANDLER], checks));
}

function problemOf(check: () => void): string | null {
  headerNames = [];
  headerField = "";
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof Problem) return err.message;
    throw err;
  }
}

/** The first problem the filter would log for `value` (without the `http-telemetry: invalid configuration: ` prefix), or null. */
export function httpTelemetryProblem(value: Json): string | null {
  return problemOf(() => {
    const v = object(value, "", "");
    let seen: { handlers: string[]; checks: Set<string> } | undefined;
    for (const [key, val] of Object.entries(v)) {
      if (key === "stat_prefix") {
        if (typeof val !== "string" || !isStatPrefix(val)) reject(key, RULE_STAT_PREFIX, val);
      } else if (key === "seed") {
        int(val, key, "a seed", 0, 2147483647);
      } else if (key === "max_connections") {
        int(val, key, "a number of connections", 1, HTTP_TELEMETRY_LIMITS.maxConnections);
      } else if (key === "handlers") {
        seen = checkHandlers(val, "");
      } else if (key !== "rules") {
        unknown(key, HTTP_TELEMETRY_FIELDS.join(", "));
      }
    }
    checkRules(v["rules"], "", seen?.handlers, seen?.checks ?? new Set());
  });
}

/** Fields of the `telemetry` section of the dubbo and thrift filters. */
export const TELEMETRY_SECTION_FIELDS = ["handlers", "rules"] as const;

/**
 * The first problem of a dubbo or thrift filter's `telemetry` section (the same handlers and rules
 * as http-telemetry, assembly/telemetry/config.ts parseTelemetrySection), or null.
 */
export function telemetrySectionProblem(value: Json): string | null {
  return problemOf(() => {
    const v = object(value, "telemetry", `{${TELEMETRY_SECTION_FIELDS.join(", ")}}`);
    let seen: { handlers: string[]; checks: Set<string> } | undefined;
    for (const [key, val] of Object.entries(v)) {
      if (key === "handlers") seen = checkHandlers(val, "telemetry.");
      else if (key !== "rules") unknown(`telemetry.${key}`, TELEMETRY_SECTION_FIELDS.join(", "));
    }
    checkRules(v["rules"], "telemetry.", seen?.handlers, seen?.checks ?? new Set());
  });
}

/** Zod member for a `telemetry` section: problems in the filter's words, whole sentences. */
export const telemetrySectionSchema: z.ZodType<unknown> = z.any().superRefine((v, ctx) => {
  const why = telemetrySectionProblem(v);
  if (why !== null) ctx.addIssue({ code: "custom", params: WHOLE, message: why });
});

export const httpTelemetrySchema: z.ZodType<unknown> = z.any().superRefine((v, ctx) => {
  const why = httpTelemetryProblem(v);
  if (why !== null) ctx.addIssue({ code: "custom", params: WHOLE, message: why });
});

export function httpTelemetryKnownFields(): readonly string[] {
  return HTTP_TELEMETRY_FIELDS;
}

/** The label keys of every prometheus handler's `dimensions` in a configuration (for stats_tags). */
export function httpTelemetryDimensions(config: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  const handlers = Array.isArray(config["handlers"]) ? config["handlers"] : [];
  for (const h of handlers) {
    if (isObject(h) && h["kind"] === "prometheus" && isObject(h["dimensions"])) out.push(...Object.keys(h["dimensions"]));
  }
  return [...new Set(out)];
}

/** The `cluster` of every otlp handler in a configuration (each needs an HTTP/2 cluster). */
export function httpTelemetryOtlpClusters(config: Readonly<Record<string, unknown>> | undefined): string[] {
  const handlers = Array.isArray(config?.["handlers"]) ? config["handlers"] : [];
  const out: string[] = [];
  for (const h of handlers) {
    if (isObject(h) && h["kind"] === "otlp" && typeof h["cluster"] === "string") out.push(h["cluster"]);
  }
  return [...new Set(out)].sort();
}
