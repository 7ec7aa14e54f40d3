// The sniffer's modes, defaults and limits: one copy, read by the filter (./config.ts,
// AssemblyScript) and the controller (controller/sniffer/config.ts, TypeScript). Written in the
// subset both languages compile: plain constants, no AssemblyScript types. The README's
// "Configuration" table lists the same values.

/** Mode names; index = `Mode` in ./config.ts. */
export const MODE_NAMES: string[] = ["observe", "route", "bypass"];

export const DEFAULT_MODE = "observe";
export const DEFAULT_MAX_DETECT_BYTES = 64;
export const DEFAULT_MAX_TLS_BYTES = 16384;
export const DEFAULT_DETECT_TIMEOUT_MS = 1000;
export const DEFAULT_STAT_PREFIX = "sniffer";
export const DEFAULT_ROUTE = "passthrough";
export const DEFAULT_PASSTHROUGH_CLUSTER = "PassthroughCluster";

/** Largest max_detect_bytes / max_tls_bytes: Envoy tls_inspector's 16 KiB ClientHello limit. */
export const MAX_BYTES_LIMIT = 16384;
/** Longest detect_timeout_ms: one hour keeps the tick arithmetic far from overflow. */
export const MAX_TIMEOUT_MS = 3600000;

/** Route targets that are not cluster names. */
export const TARGET_PASSTHROUGH = "passthrough";
export const TARGET_DENY = "deny";
