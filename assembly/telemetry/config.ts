// The telemetry engine's configuration: handlers (backend adapters) and the rules that feed them,
// the same schema in every filter that carries the engine (http-telemetry, dubbo and thrift under
// `telemetry`). The filter parses its own top-level fields and hands the `handlers` and `rules`
// values here. Pure code: as-pect tests it directly. Every default is here.
//
//   "handlers": [{"name": "prom", "kind": "prometheus", "metrics": "auto", "max_series": 1000,
//                 "dimensions": {"request_method": "request.method"}},
//                {"name": "audit", "kind": "accesslog", "fail_open": false, "sampling": 10,
//                 "attributes": ["request.method", "request.path", "response.code"]}],
//   "rules": [{"name": "api", "match": {"request.path": {"prefix": "/api/"}}, "handlers": ["prom", "audit"]}]
import { JsonKind, JsonValue } from "../runtime/json";
import { Fields } from "../runtime/fields";
import { LogLevel } from "../runtime/enums";
import { HTTP_ATTRIBUTES, HTTP_LABELS } from "./http-labels";
import { HEADER_ATTR_BASE, HEADER_ATTR_PREFIX, MAX_HEADER_SLOTS, attrIndex, attrName, headerSlot } from "./request";
import { AttrMatch, MATCH_KIND_NAMES, MatchKind, TelemetryRule, knownAtRequestHeaders } from "./rules";
import { Handler } from "./handlers/handler";
import { METRIC_NAMES, MetricNames, PrometheusHandler } from "./handlers/prometheus";
import { AccessLogHandler, LOG_LEVEL_NAMES } from "./handlers/accesslog";
import { CheckHandler } from "./handlers/check";
import { DenierHandler } from "./handlers/denier";
import { ListEntry, ListHandler } from "./handlers/list";
import { MemQuotaHandler } from "./handlers/memquota";
import { OtlpHandler } from "./handlers/otlp";
import { OTLP_FIELDS, checkOtlpConfig, parseOtlpField } from "./otlp/config";

// Every default in one place.
export const MAX_HANDLERS: i32 = 32;
export const MAX_RULES: i32 = 256;
export const MAX_DIMENSIONS: i32 = 8;
/** Distinct `request.headers.<name>` attributes one configuration may name. */
export const MAX_HEADER_ATTRIBUTES: i32 = 8;
export const MAX_HEADER_NAME: i32 = 64;
export const DEFAULT_MAX_SERIES: i32 = 1000;
export const MAX_MAX_SERIES: i32 = 100000;
export const DEFAULT_MAX_LINE_BYTES: i32 = 16384;
export const MIN_MAX_LINE_BYTES: i32 = 64;
export const MAX_MAX_LINE_BYTES: i32 = 1048576;
export const DEFAULT_SAMPLING_PERCENT: f64 = 100;
export const DEFAULT_FAIL_OPEN: bool = true;
export const DEFAULT_METRICS: MetricNames = MetricNames.Auto;
export const DEFAULT_LOG_LEVEL: LogLevel = LogLevel.Info;
/** Without `handlers`: one prometheus handler of this name. */
export const DEFAULT_HANDLER_NAME = "prometheus";
/** Without `rules`: one rule of this name, matching every request, feeding every handler. */
export const DEFAULT_RULE_NAME = "all";
/** An access log handler without `attributes` writes these for HTTP requests. */
export const DEFAULT_LOG_ATTRIBUTES: string[] = [
  "request.id", "request.method", "request.host", "request.path", "request.protocol", "response.code",
  "response.duration", "request.total_size", "response.total_size", "source.workload", "destination.workload",
];
/** ... and these for RPC calls (Dubbo, Thrift). */
export const DEFAULT_RPC_LOG_ATTRIBUTES: string[] = [
  "request.id", "request.protocol", "api.service", "api.operation", "api.version", "xds.cluster_name", "response.code",
  "response.flags", "response.duration", "request.total_size", "response.total_size", "source.workload", "destination.workload",
];
/** denier: the local reply's status and body. */
export const DEFAULT_DENIER_STATUS: i32 = 403;
export const DEFAULT_DENIER_MESSAGE = "request denied";
/** list: whitelist unless `blacklist` is true (Mixer's list adapter). */
export const DEFAULT_LIST_BLACKLIST: bool = false;
export const MAX_LIST_ENTRIES: i32 = 4096;
/** memquota: `max_amount` tokens per this many milliseconds. */
export const DEFAULT_VALID_DURATION_MS: i32 = 1000;
export const MAX_VALID_DURATION_MS: i32 = 86400000;
export const MAX_MAX_AMOUNT: i32 = 1000000000;
/** memquota: keys a VM tracks before the rest share the overflow bucket. */
export const DEFAULT_MAX_KEYS: i32 = 1000;
export const MAX_MAX_KEYS: i32 = 100000;
export const MAX_KEY_ATTRIBUTES: i32 = 8;
export const KINDS: string[] = ["prometheus", "accesslog", "denier", "list", "memquota", "otlp"];
const KIND_DENIER = 2;
const KIND_LIST = 3;
const KIND_MEMQUOTA = 4;
const KIND_OTLP = 5;

const PROMETHEUS_FIELDS = "name, kind, fail_open, sampling, metrics, max_series, dimensions";
const ACCESSLOG_FIELDS = "name, kind, fail_open, sampling, attributes, level, max_line_bytes";
const DENIER_FIELDS = "name, kind, fail_open, sampling, status_code, message";
const LIST_FIELDS = "name, kind, fail_open, sampling, attribute, entries, blacklist";
const MEMQUOTA_FIELDS = "name, kind, fail_open, sampling, max_amount, valid_duration_ms, key, max_keys";
/** otlp: the export fields of tcp-stats' `otlp` object (otlp/defaults.ts has their defaults), then its own. */
const OTLP_HANDLER_FIELDS = "name, kind, fail_open, sampling, " + OTLP_FIELDS + ", attributes, metric_names, max_series";
const RULE_FIELDS = "name, match, handlers";

/** Handlers and the rules that feed them (rule i's handlerMask bit k: handler k). */
export class TelemetryConfig {
  handlers: Handler[] = [];
  rules: TelemetryRule[] = [];
  /** HEADER_NAMES slots of the `request.headers.<name>` attributes named anywhere; [] = none. */
  headerSlots: i32[] = [];
  /** The first field naming a header attribute ("" = none), for filters that have no headers. */
  headerField: string = "";
}

// The configuration being parsed: header attributes are recorded in it wherever they are named.
let parsing: TelemetryConfig = new TelemetryConfig();

/** A header name as HTTP/2 sends it: 1 to MAX_HEADER_NAME lower-case token characters (RFC 9110 tchar). */
function isHeaderName(s: string): bool {
  if (s.length == 0 || s.length > MAX_HEADER_NAME) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) >= 0)) return false;
  }
  return true;
}

const HEADER_NAME = "must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters";

/**
 * The index of attribute `name`: a fixed one, or a `request.headers.<name>` one recorded in the
 * configuration being parsed; -1 after an error into `f` (unknown names are left to the caller).
 * `v` is the value naming it, null when the name is a key (a rule's `match`).
 */
function resolveAttr(f: Fields, name: string, field: string, v: JsonValue | null): i32 {
  if (!name.startsWith(HEADER_ATTR_PREFIX)) return attrIndex(name);
  const header = name.substring(HEADER_ATTR_PREFIX.length);
  if (!isHeaderName(header)) {
    if (v !== null) f.reject(field, HEADER_NAME, v);
    else f.fail("\"" + field + "\" " + HEADER_NAME);
    return -1;
  }
  const c = parsing;
  const slot = headerSlot(header);
  if (slot >= 0 && c.headerSlots.includes(slot)) return HEADER_ATTR_BASE + slot;
  if (slot < 0 || c.headerSlots.length >= MAX_HEADER_ATTRIBUTES) {
    f.fail("\"" + field + "\" is one header attribute too many: a configuration names at most " + MAX_HEADER_ATTRIBUTES.toString() + " (and a VM " + MAX_HEADER_SLOTS.toString() + " over its reconfigurations)");
    return -1;
  }
  c.headerSlots.push(slot);
  if (c.headerField.length == 0) c.headerField = field;
  return HEADER_ATTR_BASE + slot;
}

/**
 * Reads `handlers` and `rules` (null = absent) into `c`, errors into `f` naming the field. Absent
 * handlers: one prometheus handler named DEFAULT_HANDLER_NAME; absent rules: one rule named
 * DEFAULT_RULE_NAME feeding every handler. An access log without `attributes` writes `logAttributes`.
 * Field names in errors are prefixed with `at` ("" at the top level, "telemetry." in a section).
 */
export function parseTelemetry(f: Fields, handlers: JsonValue | null, rules: JsonValue | null, c: TelemetryConfig, logAttributes: string[], at: string): void {
  if (f.ok && handlers !== null) parseTelemetryHandlers(f, handlers, c, logAttributes, at);
  finishTelemetry(f, handlers !== null, rules, c, at);
}

/** `handlers` into `c` (a parser reading fields in order calls it where `handlers` stands). */
export function parseTelemetryHandlers(f: Fields, handlers: JsonValue, c: TelemetryConfig, logAttributes: string[], at: string): void {
  parseHandlers(f, handlers, c, logAttributes, at);
}

/** The default handler when none were given, then `rules` (they name handlers, so they come last). */
export function finishTelemetry(f: Fields, handlersSeen: bool, rules: JsonValue | null, c: TelemetryConfig, at: string): void {
  if (f.ok && !handlersSeen) c.handlers.push(new PrometheusHandler(DEFAULT_HANDLER_NAME));
  if (f.ok && rules !== null) parseRules(f, rules, c, at);
  if (f.ok && rules === null) {
    const all = new TelemetryRule();
    all.name = DEFAULT_RULE_NAME;
    for (let i = 0; i < c.handlers.length; i++) all.handlerMask |= (<u32>1) << <u32>i;
    c.rules.push(all);
  }
}

const SECTION_FIELDS = "handlers, rules";

/**
 * A filter's `telemetry` section (`{"handlers": [...], "rules": [...]}`, both optional; null =
 * absent: the defaults), read into `c`; errors name `telemetry.<field>`.
 */
export function parseTelemetrySection(f: Fields, v: JsonValue | null, c: TelemetryConfig, logAttributes: string[]): void {
  let handlersSeen = false;
  let rules: JsonValue | null = null;
  if (v !== null) {
    if (!f.object(v, "telemetry", "{" + SECTION_FIELDS + "}")) return;
    for (let i = 0; i < v.keys.length && f.ok; i++) {
      const key = v.keys[i];
      if (key == "handlers") {
        handlersSeen = true;
        parseTelemetryHandlers(f, v.values[i], c, logAttributes, "telemetry.");
      } else if (key == "rules") {
        rules = v.values[i];
      } else {
        f.unknown("telemetry." + key, SECTION_FIELDS);
      }
    }
  }
  finishTelemetry(f, handlersSeen, rules, c, "telemetry.");
}

/** letters, digits, '_': a handler name is one stat-name segment. */
function isName(s: string): bool {
  if (s.length == 0 || s.length > 64) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f)) return false;
  }
  return true;
}

/** A Prometheus label name, lower case: `[a-z_][a-z0-9_]*`. */
function isLabelName(s: string): bool {
  if (s.length == 0 || s.length > 64) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || c == 0x5f || (i > 0 && c >= 0x30 && c <= 0x39);
    if (!ok) return false;
  }
  return true;
}

const RULE_NAME = "must be a name: 1 to 64 letters, digits or '_'";

function parseHandlers(f: Fields, v: JsonValue, c: TelemetryConfig, logAttributes: string[], at: string): void {
  parsing = c;
  const field = at + "handlers";
  if (!f.list(v, field, "handlers")) return;
  if (v.items.length == 0) {
    f.reject(field, "needs at least one handler", v);
    return;
  }
  if (v.items.length > MAX_HANDLERS) {
    f.reject(field, "must hold at most " + MAX_HANDLERS.toString() + " handlers", v);
    return;
  }
  for (let i = 0; i < v.items.length && f.ok; i++) {
    const h = parseHandler(f, v.items[i], field + "[" + i.toString() + "]", logAttributes);
    if (h === null) return;
    for (let k = 0; k < c.handlers.length; k++) {
      if (c.handlers[k].name == h.name) {
        f.fail("\"" + field + "[" + i.toString() + "].name\" repeats handler \"" + h.name + "\"");
        return;
      }
    }
    c.handlers.push(h);
  }
}

function parseHandler(f: Fields, v: JsonValue, at: string, logAttributes: string[]): Handler | null {
  if (!f.object(v, at, "{name, kind, …}")) return null;
  const n = v.get("name");
  if (n === null) {
    f.fail("\"" + at + ".name\" is required");
    return null;
  }
  if (n.kind != JsonKind.String || !isName(n.str)) {
    f.reject(at + ".name", RULE_NAME, n);
    return null;
  }
  const k = v.get("kind");
  if (k === null) {
    f.fail("\"" + at + ".kind\" is required");
    return null;
  }
  const kind = f.oneOf(k, at + ".kind", KINDS);
  if (!f.ok) return null;
  let h: Handler;
  if (kind == 0) h = new PrometheusHandler(n.str);
  else if (kind == 1) h = new AccessLogHandler(n.str);
  else if (kind == KIND_DENIER) h = new DenierHandler(n.str);
  else if (kind == KIND_LIST) h = new ListHandler(n.str);
  else if (kind == KIND_OTLP) h = new OtlpHandler(n.str);
  else h = new MemQuotaHandler(n.str);
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    const field = at + "." + key;
    if (key == "name" || key == "kind") continue;
    if (key == "fail_open") {
      if (val.kind == JsonKind.Bool) h.failOpen = val.bool;
      else f.reject(field, "must be true or false", val);
    } else if (key == "sampling") {
      if (val.kind != JsonKind.Number || val.num < 0 || val.num > 100) f.reject(field, "must be a percentage 0..100", val);
      else h.samplingMilli = <u32>Math.round(val.num * 1000);
    } else if (kind == 0) {
      parsePrometheusField(f, key, val, field, changetype<PrometheusHandler>(h));
    } else if (kind == 1) {
      parseAccessLogField(f, key, val, field, changetype<AccessLogHandler>(h));
    } else if (kind == KIND_DENIER) {
      parseDenierField(f, key, val, field, changetype<DenierHandler>(h));
    } else if (kind == KIND_LIST) {
      parseListField(f, key, val, field, changetype<ListHandler>(h));
    } else if (kind == KIND_OTLP) {
      parseOtlpHandlerField(f, key, val, field, changetype<OtlpHandler>(h));
    } else {
      parseMemQuotaField(f, key, val, field, changetype<MemQuotaHandler>(h));
    }
  }
  if (f.ok && kind == KIND_DENIER && v.get("status_code") === null) changetype<DenierHandler>(h).status = DEFAULT_DENIER_STATUS;
  if (f.ok && kind == KIND_DENIER && v.get("message") === null) changetype<DenierHandler>(h).message = DEFAULT_DENIER_MESSAGE;
  if (f.ok && kind == KIND_LIST) {
    if (v.get("attribute") === null) f.fail("\"" + at + ".attribute\" is required");
    else if (v.get("entries") === null) f.fail("\"" + at + ".entries\" is required");
  }
  if (f.ok && kind == KIND_MEMQUOTA) {
    const q = changetype<MemQuotaHandler>(h);
    if (v.get("max_amount") === null) f.fail("\"" + at + ".max_amount\" is required");
    if (v.get("valid_duration_ms") === null) q.validMs = DEFAULT_VALID_DURATION_MS;
    if (v.get("max_keys") === null) q.maxKeys = DEFAULT_MAX_KEYS;
  }
  if (f.ok && kind == 1 && v.get("attributes") === null) defaultAttributes(logAttributes, changetype<AccessLogHandler>(h).attrs);
  if (f.ok && kind == KIND_OTLP) {
    const o = changetype<OtlpHandler>(h);
    checkOtlpConfig(o.config, f, at);
    if (f.ok && !o.config.logs && !o.config.metrics) f.fail("\"" + at + "\" exports nothing: logs and metrics are both false");
    if (f.ok && v.get("attributes") === null) defaultAttributes(logAttributes, o.attrs);
  }
  return f.ok ? h : null;
}

function attribute(f: Fields, v: JsonValue, field: string): i32 {
  const a = v.kind == JsonKind.String ? resolveAttr(f, v.str, field, v) : -1;
  if (a < 0 && f.ok) f.reject(field, "must be an attribute name (" + HTTP_ATTRIBUTES.join(", ") + ", " + HEADER_ATTR_PREFIX + "<name>)", v);
  return a;
}

function parsePrometheusField(f: Fields, key: string, val: JsonValue, field: string, h: PrometheusHandler): void {
  if (key == "metrics") {
    const m = f.oneOf(val, field, METRIC_NAMES);
    if (f.ok) h.names = <MetricNames>m;
  } else if (key == "max_series") {
    h.maxSeries = f.int(val, field, "a number of label sets", 1, MAX_MAX_SERIES);
  } else if (key == "dimensions") {
    if (!f.object(val, field, "mapping label names to attribute names")) return;
    if (val.keys.length > MAX_DIMENSIONS) {
      f.reject(field, "must hold at most " + MAX_DIMENSIONS.toString() + " labels", val);
      return;
    }
    for (let i = 0; i < val.keys.length && f.ok; i++) {
      const label = val.keys[i];
      if (!isLabelName(label) || HTTP_LABELS.includes(label)) {
        f.fail("\"" + field + "\" label " + label + " must be a new Prometheus label name ([a-z_][a-z0-9_]*, not one of Istio's)");
        return;
      }
      const a = attribute(f, val.values[i], field + "." + label);
      if (!f.ok) return;
      h.dimensionKeys.push(label);
      h.dimensionAttrs.push(a);
    }
  } else {
    f.unknown(field, PROMETHEUS_FIELDS);
  }
}

function defaultAttributes(names: string[], out: i32[]): void {
  for (let i = 0; i < names.length; i++) out.push(attrIndex(names[i]));
}

/** A non-empty list of attribute names (an access log line's, an OTLP log record's). */
function attributeList(f: Fields, val: JsonValue, field: string, out: i32[]): void {
  if (!f.list(val, field, "attribute names")) return;
  if (val.items.length == 0) {
    f.reject(field, "needs at least one attribute", val);
    return;
  }
  for (let i = 0; i < val.items.length && f.ok; i++) {
    const a = attribute(f, val.items[i], field + "[" + i.toString() + "]");
    if (f.ok) out.push(a);
  }
}

/** The export fields tcp-stats' `otlp` object has, then the handler's own. */
function parseOtlpHandlerField(f: Fields, key: string, val: JsonValue, field: string, h: OtlpHandler): void {
  if (parseOtlpField(h.config, f, key, val, field)) return;
  if (key == "attributes") {
    attributeList(f, val, field, h.attrs);
  } else if (key == "metric_names") {
    const m = f.oneOf(val, field, METRIC_NAMES);
    if (f.ok) h.names = <MetricNames>m;
  } else if (key == "max_series") {
    h.maxSeries = f.int(val, field, "a number of label sets", 1, MAX_MAX_SERIES);
  } else {
    f.unknown(field, OTLP_HANDLER_FIELDS);
  }
}

function parseAccessLogField(f: Fields, key: string, val: JsonValue, field: string, h: AccessLogHandler): void {
  if (key == "attributes") {
    attributeList(f, val, field, h.attrs);
  } else if (key == "level") {
    const l = f.oneOf(val, field, LOG_LEVEL_NAMES);
    if (f.ok) h.level = <LogLevel>l;
  } else if (key == "max_line_bytes") {
    h.maxLineBytes = f.byteSize(val, field, MIN_MAX_LINE_BYTES, MAX_MAX_LINE_BYTES);
  } else {
    f.unknown(field, ACCESSLOG_FIELDS);
  }
}

/** An attribute a check handler may use: known at request headers (README "Check handlers"). */
function checkAttribute(f: Fields, v: JsonValue, field: string): i32 {
  const a = attribute(f, v, field);
  if (f.ok && !knownAtRequestHeaders(a)) f.reject(field, "must be an attribute known at request headers (not a response attribute or request.total_size)", v);
  return a;
}

function parseDenierField(f: Fields, key: string, val: JsonValue, field: string, h: DenierHandler): void {
  if (key == "status_code") {
    h.status = <u32>f.int(val, field, "an HTTP status", 400, 599);
  } else if (key == "message") {
    if (val.kind != JsonKind.String || val.str.length > 1024) f.reject(field, "must be a string of at most 1024 characters", val);
    else h.message = val.str;
  } else {
    f.unknown(field, DENIER_FIELDS);
  }
}

function parseListField(f: Fields, key: string, val: JsonValue, field: string, h: ListHandler): void {
  if (key == "attribute") {
    h.attr = checkAttribute(f, val, field);
  } else if (key == "blacklist") {
    if (val.kind == JsonKind.Bool) h.blacklist = val.bool;
    else f.reject(field, "must be true or false", val);
  } else if (key == "entries") {
    if (!f.list(val, field, "values or {\"prefix\": …}")) return;
    if (val.items.length > MAX_LIST_ENTRIES) {
      f.reject(field, "must hold at most " + MAX_LIST_ENTRIES.toString() + " entries", val);
      return;
    }
    for (let i = 0; i < val.items.length && f.ok; i++) {
      const e = val.items[i];
      const at = field + "[" + i.toString() + "]";
      const p = e.kind == JsonKind.Object ? e.get("prefix") : null;
      if (e.kind == JsonKind.String) h.entries.push(new ListEntry(false, e.str));
      else if (p !== null && e.keys.length == 1 && p.kind == JsonKind.String && p.str.length > 0) h.entries.push(new ListEntry(true, p.str));
      else f.reject(at, "must be a string (exact value) or {\"prefix\": \"…\"} (non-empty)", e);
    }
  } else {
    f.unknown(field, LIST_FIELDS);
  }
}

function parseMemQuotaField(f: Fields, key: string, val: JsonValue, field: string, h: MemQuotaHandler): void {
  if (key == "max_amount") {
    h.maxAmount = f.int(val, field, "a number of requests", 1, MAX_MAX_AMOUNT);
  } else if (key == "valid_duration_ms") {
    h.validMs = f.durationMs(val, field, 1, MAX_VALID_DURATION_MS);
  } else if (key == "max_keys") {
    h.maxKeys = f.int(val, field, "a number of keys", 1, MAX_MAX_KEYS);
  } else if (key == "key") {
    if (!f.list(val, field, "attribute names")) return;
    if (val.items.length > MAX_KEY_ATTRIBUTES) {
      f.reject(field, "must hold at most " + MAX_KEY_ATTRIBUTES.toString() + " attributes", val);
      return;
    }
    for (let i = 0; i < val.items.length && f.ok; i++) h.keyAttrs.push(checkAttribute(f, val.items[i], field + "[" + i.toString() + "]"));
  } else {
    f.unknown(field, MEMQUOTA_FIELDS);
  }
}

function parseRules(f: Fields, v: JsonValue, c: TelemetryConfig, at: string): void {
  parsing = c;
  const field = at + "rules";
  if (!f.list(v, field, "rules")) return;
  if (v.items.length > MAX_RULES) {
    f.reject(field, "must hold at most " + MAX_RULES.toString() + " rules", v);
    return;
  }
  for (let i = 0; i < v.items.length && f.ok; i++) {
    const r = parseRule(f, v.items[i], field + "[" + i.toString() + "]", c);
    if (f.ok) c.rules.push(r);
  }
}

function parseRule(f: Fields, v: JsonValue, at: string, c: TelemetryConfig): TelemetryRule {
  const r = new TelemetryRule();
  if (!f.object(v, at, "{" + RULE_FIELDS + "}")) return r;
  let named = false;
  let fed = false;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    const field = at + "." + key;
    if (key == "name") {
      if (val.kind != JsonKind.String || !isName(val.str)) f.reject(field, RULE_NAME, val);
      r.name = val.str;
      named = true;
    } else if (key == "match") {
      if (!f.object(val, field, "mapping attribute names to {exact|prefix|present}")) break;
      for (let m = 0; m < val.keys.length && f.ok; m++) {
        const name = val.keys[m];
        const a = resolveAttr(f, name, field + "." + name, null);
        if (!f.ok) break;
        if (a < 0) {
          f.unknown(field + "." + name, HTTP_ATTRIBUTES.join(", ") + ", " + HEADER_ATTR_PREFIX + "<name>");
          break;
        }
        const cond = parseCondition(f, val.values[m], field + "." + name, a);
        if (cond !== null) r.matches.push(cond);
      }
    } else if (key == "handlers") {
      fed = true;
      if (!f.list(val, field, "handler names")) break;
      if (val.items.length == 0) f.reject(field, "needs at least one handler", val);
      for (let h = 0; h < val.items.length && f.ok; h++) {
        const hv = val.items[h];
        let index = -1;
        if (hv.kind == JsonKind.String) {
          for (let k = 0; k < c.handlers.length; k++) if (c.handlers[k].name == hv.str) index = k;
        }
        if (index < 0) {
          const known = new Array<string>();
          for (let k = 0; k < c.handlers.length; k++) known.push(c.handlers[k].name);
          f.reject(field + "[" + h.toString() + "]", "must name a handler (" + known.join(", ") + ")", hv);
        } else {
          r.handlerMask |= (<u32>1) << <u32>index;
        }
      }
    } else {
      f.unknown(field, RULE_FIELDS);
    }
  }
  if (f.ok && !named) f.fail("\"" + at + ".name\" is required");
  if (f.ok && !fed) f.fail("\"" + at + ".handlers\" is required");
  // A check handler decides at request headers: its rules may test only what is known then.
  for (let h = 0; h < c.handlers.length && f.ok; h++) {
    if ((r.handlerMask & ((<u32>1) << <u32>h)) == 0 || !(c.handlers[h] instanceof CheckHandler)) continue;
    for (let m = 0; m < r.matches.length; m++) {
      const a = r.matches[m].attr;
      if (!knownAtRequestHeaders(a)) {
        f.fail("rule \"" + r.name + "\" feeds check handler \"" + c.handlers[h].name + "\" (decided at request headers) but matches " + attrName(a) + ", known only at the end of the request");
        break;
      }
    }
  }
  return r;
}

function parseCondition(f: Fields, v: JsonValue, field: string, a: i32): AttrMatch | null {
  if (!f.object(v, field, "{exact|prefix|present}")) return null;
  if (v.keys.length != 1) {
    f.reject(field, "must hold exactly one of exact, prefix, present", v);
    return null;
  }
  const k = v.keys[0];
  const s = v.values[0];
  const kind = MATCH_KIND_NAMES.indexOf(k);
  if (kind < 0) {
    f.unknown(field + "." + k, "exact, prefix, present");
    return null;
  }
  if (kind == MatchKind.Present) {
    if (s.kind != JsonKind.Bool || !s.bool) f.reject(field + ".present", "must be true", s);
    return new AttrMatch(a, MatchKind.Present, "");
  }
  // Numbers (response.code) may be written as numbers; they compare as their decimal text.
  let text = "";
  if (s.kind == JsonKind.String) text = s.str;
  else if (s.kind == JsonKind.Number && s.num == Math.floor(s.num) && s.num >= 0) text = s.numberText();
  else {
    f.reject(field + "." + k, "must be a string", s);
    return null;
  }
  if (kind == MatchKind.Prefix && text.length == 0) {
    f.reject(field + ".prefix", "must be a non-empty string", s);
    return null;
  }
  return new AttrMatch(a, <MatchKind>kind, text);
}
