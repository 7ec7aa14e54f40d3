// The `otlp` section of a filter's configuration: where and how to export. Defaults and bounds:
// ./defaults.ts, which the controller compiles too. Pure code.
import { JsonKind, JsonValue } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import {
  DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_TIMEOUT_MS, MAX_AUTHORITY_BYTES,
  MAX_BATCH_SIZE, MAX_FLUSH_INTERVAL_MS, MAX_MAX_QUEUE_SIZE, MAX_TIMEOUT_MS, MIN_BATCH_SIZE, MIN_FLUSH_INTERVAL_MS,
  MIN_MAX_QUEUE_SIZE, MIN_TIMEOUT_MS, OTLP_FIELD_NAMES,
} from "./defaults";

export {
  DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_TIMEOUT_MS, MAX_BATCH_SIZE,
  MAX_FLUSH_INTERVAL_MS, MAX_MAX_QUEUE_SIZE, MAX_TIMEOUT_MS, MIN_FLUSH_INTERVAL_MS,
};

/** Metric series (label sets) per ExportMetricsServiceRequest: 5 points each. */
export const METRIC_SERIES_PER_EXPORT: i32 = 64;

export const OTLP_FIELDS = OTLP_FIELD_NAMES.join(", ");
export const RULE_AUTHORITY = "must be an authority: 1 to 255 bytes of visible ASCII (host or host:port)";
export const RULE_BOOL = "must be true or false";

export class OtlpConfig {
  /** The Envoy cluster of the collector (required). */
  cluster: string = "";
  /** `:authority` of the export requests; "" = the cluster name (Envoy's default). */
  authority: string = "";
  timeoutMs: i32 = DEFAULT_TIMEOUT_MS;
  batchSize: i32 = DEFAULT_BATCH_SIZE;
  maxQueueSize: i32 = DEFAULT_MAX_QUEUE_SIZE;
  flushIntervalMs: i32 = DEFAULT_FLUSH_INTERVAL_MS;
  logs: bool = true;
  metrics: bool = true;
}

export function isAuthority(s: string): bool {
  const n = s.length;
  if (n == 0 || n > MAX_AUTHORITY_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function readBool(f: Fields, v: JsonValue, field: string): bool {
  if (v.kind == JsonKind.Bool) return v.bool;
  f.reject(field, RULE_BOOL, v);
  return false;
}

/**
 * Reads one export field `key` (value `x`, named `name` in errors) into `c`; false when `key` is
 * not an export field (the caller decides whether that is an error). A filter with an `otlp`
 * object and http-telemetry's `otlp` handler share these fields.
 */
export function parseOtlpField(c: OtlpConfig, f: Fields, key: string, x: JsonValue, name: string): bool {
  if (key == "cluster") c.cluster = f.clusterName(x, name);
  else if (key == "authority") {
    if (x.kind == JsonKind.String && isAuthority(x.str)) c.authority = x.str;
    else f.reject(name, RULE_AUTHORITY, x);
  } else if (key == "timeout_ms") c.timeoutMs = f.durationMs(x, name, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
  else if (key == "batch_size") c.batchSize = f.int(x, name, "a number of log records", MIN_BATCH_SIZE, MAX_BATCH_SIZE);
  else if (key == "max_queue_size") c.maxQueueSize = f.int(x, name, "a number of log records", MIN_MAX_QUEUE_SIZE, MAX_MAX_QUEUE_SIZE);
  else if (key == "flush_interval_ms") c.flushIntervalMs = f.durationMs(x, name, MIN_FLUSH_INTERVAL_MS, MAX_FLUSH_INTERVAL_MS);
  else if (key == "logs") c.logs = readBool(f, x, name);
  else if (key == "metrics") c.metrics = readBool(f, x, name);
  else return false;
  return true;
}

/** The checks across fields, once every field of the object `at` is read. */
export function checkOtlpConfig(c: OtlpConfig, f: Fields, at: string): void {
  if (!f.ok) return;
  if (c.cluster.length == 0) f.fail("\"" + at + ".cluster\" is required");
  else if (c.maxQueueSize < c.batchSize) {
    f.fail("\"" + at + ".max_queue_size\" must be at least batch_size (" + c.batchSize.toString() +
      "), found " + c.maxQueueSize.toString());
  }
}

/**
 * Reads the `otlp` object `v` (its name in errors: `at`, e.g. "otlp"); fields are named
 * `otlp.cluster` and so on. The first error is left in `f`.
 */
export function parseOtlpConfig(v: JsonValue, f: Fields, at: string): OtlpConfig {
  const c = new OtlpConfig();
  if (!f.object(v, at, "with the collector's cluster and export settings")) return c;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const name = at + "." + key;
    if (!parseOtlpField(c, f, key, v.values[i], name)) f.unknown(name, OTLP_FIELDS);
  }
  checkOtlpConfig(c, f, at);
  return c;
}
