/**
 * The OTLP export fields, checked as the filters' parser checks them (assembly/telemetry/otlp/
 * config.ts parseOtlpField / checkOtlpConfig), with the defaults and bounds of the one file both
 * compile (assembly/telemetry/otlp/defaults.ts). tcp-stats has them in its `otlp` object,
 * http-telemetry's `otlp` handler beside `name` and `kind`.
 */
import * as otlp from "../../assembly/telemetry/otlp/defaults.js";
import { checkClusterName, checkDurationMs, show, type FieldCheck } from "./fields.js";

/** The export fields, in the order errors list them. */
export const OTLP_FIELDS: readonly string[] = otlp.OTLP_FIELD_NAMES;

const checkRecords = (lo: number, hi: number): FieldCheck => (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? null : `must be a number of log records, an integer ${lo}..${hi}, found ${show(v)}`;
const checkBool: FieldCheck = (v) => (typeof v === "boolean" ? null : `must be true or false, found ${show(v)}`);
const checkAuthority: FieldCheck = (v) =>
  typeof v === "string" && v.length >= 1 && v.length <= otlp.MAX_AUTHORITY_BYTES && /^[\x21-\x7e]+$/.test(v)
    ? null
    : `must be an authority: 1 to 255 bytes of visible ASCII (host or host:port), found ${show(v)}`;

/** Each export field's check. */
export const OTLP_FIELD_CHECKS: Readonly<Record<string, FieldCheck>> = {
  cluster: checkClusterName,
  authority: checkAuthority,
  timeout_ms: checkDurationMs(otlp.MIN_TIMEOUT_MS, otlp.MAX_TIMEOUT_MS),
  batch_size: checkRecords(otlp.MIN_BATCH_SIZE, otlp.MAX_BATCH_SIZE),
  max_queue_size: checkRecords(otlp.MIN_MAX_QUEUE_SIZE, otlp.MAX_MAX_QUEUE_SIZE),
  flush_interval_ms: checkDurationMs(otlp.MIN_FLUSH_INTERVAL_MS, otlp.MAX_FLUSH_INTERVAL_MS),
  logs: checkBool,
  metrics: checkBool,
};

/**
 * The checks across fields of the export settings `o` (object or handler `at`), once each field
 * passed its own: the cluster is required, and the queue holds at least one batch.
 */
export function otlpSettingsProblem(o: Readonly<Record<string, unknown>>, at: string): string | null {
  if (o["cluster"] === undefined) return `"${at}.cluster" is required`;
  const batch = typeof o["batch_size"] === "number" ? o["batch_size"] : otlp.DEFAULT_BATCH_SIZE;
  const queue = typeof o["max_queue_size"] === "number" ? o["max_queue_size"] : otlp.DEFAULT_MAX_QUEUE_SIZE;
  if (queue < batch) return `"${at}.max_queue_size" must be at least batch_size (${batch}), found ${queue}`;
  return null;
}
