// The otlp section's defaults and bounds: one copy, compiled by the filter
// (./config.ts, AssemblyScript) and the controller (controller/config/tcp-stats.ts, TypeScript).
// Written in the subset both languages compile: plain constants, no AssemblyScript types.

/** Milliseconds an export may take before Envoy's async client ends it (DeadlineExceeded). */
export const DEFAULT_TIMEOUT_MS = 5000;
export const MIN_TIMEOUT_MS = 1;
export const MAX_TIMEOUT_MS = 60000;
/** Log records per ExportLogsServiceRequest; a full batch is sent at once. */
export const DEFAULT_BATCH_SIZE = 256;
export const MIN_BATCH_SIZE = 1;
/** Bounded so one request stays well under gRPC's default 4 MiB receive limit. */
export const MAX_BATCH_SIZE = 1000;
/** Log records a VM holds while an export is outstanding or failing; more are dropped. */
export const DEFAULT_MAX_QUEUE_SIZE = 2048;
export const MIN_MAX_QUEUE_SIZE = 1;
export const MAX_MAX_QUEUE_SIZE = 65536;
/** How often queued records and the cumulative metrics are sent. */
export const DEFAULT_FLUSH_INTERVAL_MS = 10000;
export const MIN_FLUSH_INTERVAL_MS = 100;
export const MAX_FLUSH_INTERVAL_MS = 3600000;
/** Longest `authority`, in bytes (a host[:port]; DNS names are at most 253 bytes). */
export const MAX_AUTHORITY_BYTES = 255;
/** The section's fields, in the order errors list them. */
export const OTLP_FIELD_NAMES: string[] = [
  "cluster", "authority", "timeout_ms", "batch_size", "max_queue_size", "flush_interval_ms", "logs", "metrics",
];
