/**
 * An OTLP/gRPC collector for the filters' OTLP tests: a @grpc/grpc-js server with LogsService
 * and MetricsService built from opentelemetry-proto's own .proto files (shipped in
 * @opentelemetry/otlp-grpc-exporter-base 0.38.0: docs/adr/0007-otlp-export.md), which decodes
 * every export and keeps it; it can also fail or answer late.
 */
import { createRequire } from "node:module";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { withTimeout } from "../host/fakes.js";

const require = createRequire(import.meta.url);
const PROTOS = path.join(path.dirname(require.resolve("@opentelemetry/otlp-grpc-exporter-base/package.json")), "build", "protos");

/** Envoy's default histogram buckets (source/common/stats/histogram_impl.cc). */
export const ENVOY_DEFAULT_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

// Decoded with keepCase, longs as strings, enums as names, oneofs named.
export interface AnyValue { value?: string; string_value?: string; int_value?: string; bool_value?: boolean; double_value?: number }
export interface KeyValue { key: string; value: AnyValue }
export interface LogRecord {
  time_unix_nano: string; observed_time_unix_nano: string; severity_number: string; severity_text: string;
  body: AnyValue; attributes: KeyValue[];
}
export interface NumberDataPoint { attributes: KeyValue[]; start_time_unix_nano: string; time_unix_nano: string; as_int: string }
export interface HistogramDataPoint {
  attributes: KeyValue[]; start_time_unix_nano: string; time_unix_nano: string; count: string; sum: number;
  bucket_counts: string[]; explicit_bounds: number[]; min?: number; max?: number;
}
export interface Metric {
  name: string; unit: string; description: string;
  sum?: { data_points: NumberDataPoint[]; aggregation_temporality: string; is_monotonic: boolean };
  histogram?: { data_points: HistogramDataPoint[]; aggregation_temporality: string };
}
export interface Resource { attributes: KeyValue[] }
export interface LogsRequest { resource_logs: { resource: Resource; scope_logs: { scope: { name: string }; log_records: LogRecord[] }[] }[] }
export interface MetricsRequest { resource_metrics: { resource: Resource; scope_metrics: { scope: { name: string }; metrics: Metric[] }[] }[] }

export type Scalar = string | number | boolean | undefined;

export function attrs(kvs: KeyValue[]): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const kv of kvs) {
    const v = kv.value;
    out[kv.key] = v.value === "int_value" ? Number(v.int_value) : v.value === undefined ? undefined : (v as Record<string, Scalar>)[v.value];
  }
  return out;
}

export type Mode = "ok" | "fail" | "slow";

/** An OTLP/gRPC collector: LogsService and MetricsService from the official protos. */
export async function otlpCollector() {
  const def = protoLoader.loadSync(
    ["opentelemetry/proto/collector/logs/v1/logs_service.proto", "opentelemetry/proto/collector/metrics/v1/metrics_service.proto"],
    { includeDirs: [PROTOS], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true },
  );
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pkg = grpc.loadPackageDefinition(def) as any;
  const server = new grpc.Server();
  const logs: LogsRequest[] = [];
  const metrics: MetricsRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const listeners = new Set<() => void>();
  const state = { mode: "ok" as Mode, slowMs: 3000 };
  const handler = <T>(store: T[]) => (call: grpc.ServerUnaryCall<T, object>, cb: grpc.sendUnaryData<object>) => {
    if (state.mode === "fail") return cb({ code: grpc.status.UNAVAILABLE, details: "collector down" });
    if (state.mode === "slow") {
      const t = setTimeout(() => { timers.delete(t); cb(null, {}); }, state.slowMs);
      timers.add(t);
      return;
    }
    store.push(call.request);
    cb(null, {});
    for (const l of listeners) l();
  };
  server.addService(pkg.opentelemetry.proto.collector.logs.v1.LogsService.service, { Export: handler(logs) });
  server.addService(pkg.opentelemetry.proto.collector.metrics.v1.MetricsService.service, { Export: handler(metrics) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port,
    logs,
    metrics,
    state,
    records: () => logs.flatMap((r) => r.resource_logs.flatMap((rl) => rl.scope_logs.flatMap((s) => s.log_records))),
    /** Resolves once `cond` holds after an export arrived (or now). */
    until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
      if (cond()) return Promise.resolve();
      return withTimeout(new Promise<void>((resolve) => {
        const l = () => { if (cond()) { listeners.delete(l); resolve(); } };
        listeners.add(l);
      }), ms, what);
    },
    close: () => new Promise<void>((r) => { for (const t of timers) clearTimeout(t); server.tryShutdown(() => r()); }),
  };
}

/** Polls a host-side condition (stats change inside wasm callbacks, no event to await). */
export async function eventually(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

