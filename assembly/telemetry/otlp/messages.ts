// OTLP messages as protobuf field numbers, and the pieces every request shares (attributes,
// resource, scope). Pure code.
//
// Field numbers are opentelemetry-proto's (github.com/open-telemetry/opentelemetry-proto,
// `opentelemetry/proto/...`; the tests decode our bytes with those .proto files):
//   common/v1/common.proto      AnyValue { string_value = 1; bool_value = 2; int_value = 3;
//                               double_value = 4; } KeyValue { key = 1; value = 2; }
//                               InstrumentationScope { name = 1; version = 2; }
//   resource/v1/resource.proto  Resource { repeated KeyValue attributes = 1; }
//   logs/v1/logs.proto          ResourceLogs { resource = 1; scope_logs = 2; }
//                               ScopeLogs { scope = 1; log_records = 2; }
//                               LogRecord { fixed64 time_unix_nano = 1; severity_number = 2;
//                               severity_text = 3; AnyValue body = 5; attributes = 6;
//                               fixed64 observed_time_unix_nano = 11; }
//   metrics/v1/metrics.proto    ResourceMetrics { resource = 1; scope_metrics = 2; }
//                               ScopeMetrics { scope = 1; metrics = 2; }
//                               Metric { name = 1; description = 2; unit = 3; Sum sum = 7;
//                               Histogram histogram = 9; }
//                               Sum { data_points = 1; aggregation_temporality = 2;
//                               is_monotonic = 3; } Histogram { data_points = 1;
//                               aggregation_temporality = 2; }
//                               NumberDataPoint { start_time_unix_nano = 2; time_unix_nano = 3;
//                               sfixed64 as_int = 6; attributes = 7; }
//                               HistogramDataPoint { start_time_unix_nano = 2; time_unix_nano = 3;
//                               fixed64 count = 4; double sum = 5; repeated fixed64
//                               bucket_counts = 6; repeated double explicit_bounds = 7;
//                               attributes = 9; double min = 11; double max = 12; }
//                               AggregationTemporality CUMULATIVE = 2
//   collector/logs/v1/logs_service.proto       ExportLogsServiceRequest { resource_logs = 1; }
//   collector/metrics/v1/metrics_service.proto ExportMetricsServiceRequest { resource_metrics = 1; }
import { Workload } from "../attributes";
import { PbWriter, WIRE_LEN } from "./writer";

export namespace AnyValueField {
  export const STRING: u32 = 1;
  export const BOOL: u32 = 2;
  export const INT: u32 = 3;
}
export const KEY_VALUE_KEY: u32 = 1;
export const KEY_VALUE_VALUE: u32 = 2;
export const SCOPE_NAME: u32 = 1;
export const SCOPE_VERSION: u32 = 2;
export const RESOURCE_ATTRIBUTES: u32 = 1;

/** ResourceLogs / ResourceMetrics share numbers: resource = 1, scope_* = 2. */
export const RESOURCE_X_RESOURCE: u32 = 1;
export const RESOURCE_X_SCOPE: u32 = 2;
/** ScopeLogs / ScopeMetrics: scope = 1, log_records / metrics = 2. */
export const SCOPE_X_SCOPE: u32 = 1;
export const SCOPE_X_ITEMS: u32 = 2;
/** ExportLogsServiceRequest.resource_logs / ExportMetricsServiceRequest.resource_metrics. */
export const REQUEST_RESOURCES: u32 = 1;

export namespace LogRecordField {
  export const TIME: u32 = 1;
  export const SEVERITY_NUMBER: u32 = 2;
  export const SEVERITY_TEXT: u32 = 3;
  export const BODY: u32 = 5;
  export const ATTRIBUTES: u32 = 6;
  export const OBSERVED_TIME: u32 = 11;
}
/** SeverityNumber SEVERITY_NUMBER_INFO (logs.proto). */
export const SEVERITY_INFO: u64 = 9;

export namespace MetricField {
  export const NAME: u32 = 1;
  export const DESCRIPTION: u32 = 2;
  export const UNIT: u32 = 3;
  export const SUM: u32 = 7;
  export const HISTOGRAM: u32 = 9;
}
/** Sum / Histogram. */
export const DATA_POINTS: u32 = 1;
export const AGGREGATION_TEMPORALITY: u32 = 2;
export const SUM_IS_MONOTONIC: u32 = 3;
export const TEMPORALITY_CUMULATIVE: u64 = 2;

export namespace NumberPointField {
  export const START_TIME: u32 = 2;
  export const TIME: u32 = 3;
  export const AS_INT: u32 = 6;
  export const ATTRIBUTES: u32 = 7;
}
export namespace HistogramPointField {
  export const START_TIME: u32 = 2;
  export const TIME: u32 = 3;
  export const COUNT: u32 = 4;
  export const SUM: u32 = 5;
  export const BUCKET_COUNTS: u32 = 6;
  export const EXPLICIT_BOUNDS: u32 = 7;
  export const ATTRIBUTES: u32 = 9;
  export const MIN: u32 = 11;
  export const MAX: u32 = 12;
}

/** gRPC service and method names (the `service` declarations of the two *_service.proto). */
export const LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService";
export const METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService";
export const EXPORT_METHOD = "Export";

/** `field` = KeyValue{key, AnyValue{string_value}}. */
export function kvString(w: PbWriter, field: u32, key: string, value: string): void {
  w.begin(field);
  w.stringField(KEY_VALUE_KEY, key);
  w.begin(KEY_VALUE_VALUE);
  // Written even when empty: an AnyValue without a member would mean "no value".
  w.stringField(AnyValueField.STRING, value);
  w.end();
  w.end();
}

/** `field` = KeyValue{key, AnyValue{int_value}} (int64: two's complement varint). */
export function kvInt(w: PbWriter, field: u32, key: string, value: i64): void {
  w.begin(field);
  w.stringField(KEY_VALUE_KEY, key);
  w.begin(KEY_VALUE_VALUE);
  w.varintField(AnyValueField.INT, <u64>value);
  w.end();
  w.end();
}

export function kvBool(w: PbWriter, field: u32, key: string, value: bool): void {
  w.begin(field);
  w.stringField(KEY_VALUE_KEY, key);
  w.begin(KEY_VALUE_VALUE);
  w.varintField(AnyValueField.BOOL, value ? 1 : 0);
  w.end();
  w.end();
}

/**
 * Opens one `ScopeLogs.log_records` entry (an INFO record at `timeNs` with a string body); the
 * caller writes its attributes (LogRecordField.ATTRIBUTES), then endLogRecord().
 */
export function beginLogRecordFields(w: PbWriter, timeNs: u64, body: string): void {
  w.begin(SCOPE_X_ITEMS);
  w.fixed64Field(LogRecordField.TIME, timeNs);
  w.varintField(LogRecordField.SEVERITY_NUMBER, SEVERITY_INFO);
  w.stringField(LogRecordField.SEVERITY_TEXT, "INFO");
  w.begin(LogRecordField.BODY);
  w.stringField(AnyValueField.STRING, body);
  w.end();
}

/** Closes a record opened by beginLogRecordFields (observed at `timeNs`, when the VM saw it end). */
export function endLogRecord(w: PbWriter, timeNs: u64): void {
  w.fixed64Field(LogRecordField.OBSERVED_TIME, timeNs);
  w.end();
}

/**
 * String attributes encoded once, to be written under any field number: KeyValue messages each
 * as `0x0a <length> <KeyValue>` (field 1), so writeAttributes swaps the one tag byte.
 */
export function encodeAttributeSet(keys: string[], values: string[]): ArrayBuffer {
  const w = new PbWriter(64 * keys.length);
  const n = keys.length < values.length ? keys.length : values.length;
  for (let i = 0; i < n; i++) kvString(w, 1, keys[i], values[i]);
  return w.toArrayBuffer();
}

/** Writes an encodeAttributeSet() result as repeated KeyValue `field`. */
export function writeAttributes(w: PbWriter, field: u32, set: ArrayBuffer): void {
  const base = changetype<usize>(set);
  const n = set.byteLength;
  let p = 1; // past the first entry's tag byte (field 1, wire type 2: one byte)
  while (p < n) {
    let size: u32 = 0;
    let shift: u32 = 0;
    let q = p;
    while (q < n) {
      const b = <u32>load<u8>(base + <usize>q);
      q++;
      size |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const end = q + <i32>size;
    if (end > n) return; // never: the set is our own encoding
    w.tag(field, WIRE_LEN);
    w.raw(base + <usize>p, end - p);
    p = end + 1;
  }
}

/** OTLP resource attributes (semantic conventions) of the local workload from the node metadata. */
export const RESOURCE_SERVICE_NAME = "service.name";
export const RESOURCE_SERVICE_VERSION = "service.version";
export const RESOURCE_NAMESPACE = "k8s.namespace.name";
export const RESOURCE_WORKLOAD = "istio.workload.name";
export const RESOURCE_CLUSTER_ID = "istio.cluster_id";
export const RESOURCE_INSTANCE_ID = "service.instance.id";
/** The semantic conventions' value when the service is not known. */
export const UNKNOWN_SERVICE = "unknown_service";

/**
 * `ResourceLogs.resource` / `ResourceMetrics.resource` (field 1) for `local`, encoded once:
 * service.name = canonical service, else app, else workload, service.version = canonical
 * revision else version, service.instance.id = `instanceId` (one per VM: every worker VM keeps
 * its own cumulative sums, and OTLP wants one writer per stream); absent values are left out. The service.name order is Istio's for the
 * canonical name (istio/istio pkg/kube/labels/labels.go CanonicalService: canonical-name label,
 * app.kubernetes.io/name, app, then the workload name).
 */
export function encodeResourceField(local: Workload, instanceId: string): ArrayBuffer {
  const w = new PbWriter(256);
  w.begin(RESOURCE_X_RESOURCE);
  const svc = local.canonicalService.length > 0 ? local.canonicalService
    : local.app.length > 0 ? local.app : local.workload.length > 0 ? local.workload : UNKNOWN_SERVICE;
  kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_SERVICE_NAME, svc);
  const version = local.canonicalRevision.length > 0 ? local.canonicalRevision : local.version;
  if (version.length > 0) kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_SERVICE_VERSION, version);
  if (local.namespace.length > 0) kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_NAMESPACE, local.namespace);
  if (local.workload.length > 0) kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_WORKLOAD, local.workload);
  if (local.cluster.length > 0) kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_CLUSTER_ID, local.cluster);
  if (instanceId.length > 0) kvString(w, RESOURCE_ATTRIBUTES, RESOURCE_INSTANCE_ID, instanceId);
  w.end();
  return w.toArrayBuffer();
}

/** `ScopeLogs.scope` / `ScopeMetrics.scope` (field 1), encoded once. */
export function encodeScopeField(name: string, version: string): ArrayBuffer {
  const w = new PbWriter(64);
  w.begin(SCOPE_X_SCOPE);
  w.stringField(SCOPE_NAME, name);
  if (version.length > 0) w.stringField(SCOPE_VERSION, version);
  w.end();
  return w.toArrayBuffer();
}

/**
 * envoy.config.core.v3.GrpcService { EnvoyGrpc envoy_grpc = 1 { cluster_name = 1;
 * authority = 2; } } (api/envoy/config/core/v3/grpc_service.proto), the `service` argument of
 * proxy_grpc_call: Envoy parses it as a GrpcService first (source/extensions/common/wasm/
 * context.cc Context::grpcCall) and sets `:authority` from `authority`, else the cluster name
 * (source/common/grpc/async_client_impl.cc AsyncStreamImpl::initialize).
 */
export function encodeGrpcService(cluster: string, authority: string): ArrayBuffer {
  const w = new PbWriter(64);
  w.begin(1);
  w.stringField(1, cluster);
  if (authority.length > 0) w.stringField(2, authority);
  w.end();
  return w.toArrayBuffer();
}
