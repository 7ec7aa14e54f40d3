// The OTLP exporter of one root context: a bounded queue of encoded log records, the cumulative
// TCP metrics, and at most one outstanding unary gRPC call (proxy_grpc_call) to the collector's
// LogsService/Export or MetricsService/Export over an Envoy cluster.
//
// Flow: records are encoded when a connection ends and appended to the queue; a full batch is
// sent at once, a partial one at the next tick (flush_interval_ms). Each tick also starts a pass
// over the metric series, METRIC_SERIES_PER_EXPORT series per request. Log records are sent
// first (they are what a full queue drops). After a failed export nothing more is sent until the
// next tick, so a failing collector costs one call per interval; the queue fills and further
// records are dropped and counted. Metrics are cumulative, so a failed metrics export loses
// nothing: the next pass carries the totals.
//
// Envoy delivers a unary call's answer to the root context that made it: on_grpc_receive on
// success, on_grpc_close(status) on failure, deadline included (envoy source/extensions/common/
// wasm/context.h, GrpcCallClientHandler onSuccessRaw / onFailure). A failure found while the call is
// being made arrives inside proxy_grpc_call, before its token is known (a cluster that is not
// there: source/common/grpc/async_client_impl.cc AsyncStreamImpl::initialize closes with
// Unavailable at once, then grpcCall answers InternalFailure); it is remembered and handled when
// the call returns, counted once.
import * as imp from "../../runtime/imports";
import { LogLevel, MetricType, WasmResult } from "../../runtime/enums";
import { HeaderPair, serializePairs } from "../../runtime/pairs";
import {
  defineMetric, getCurrentTimeNanoseconds, grpcCancel, incrementMetric, log,
} from "../../runtime/hostcalls";
import { Workload } from "../attributes";
import { METRIC_SERIES_PER_EXPORT, OtlpConfig } from "./config";
import {
  EXPORT_METHOD, LOGS_SERVICE, METRICS_SERVICE, REQUEST_RESOURCES, RESOURCE_X_SCOPE, SCOPE_X_ITEMS,
  encodeGrpcService, encodeResourceField, encodeScopeField,
} from "./messages";
import { PbWriter } from "./writer";

/** The exporter's states; EXPORT_STATE_NAMES names them in logs. */
export enum ExportState {
  Idle = 0,
  ExportingLogs = 1,
  ExportingMetrics = 2,
}
export const EXPORT_STATE_NAMES: string[] = ["idle", "exporting logs", "exporting metrics"];

/** gRPC status DEADLINE_EXCEEDED (grpc/grpc doc/statuscodes.md). */
export const GRPC_DEADLINE_EXCEEDED: u32 = 4;

/** The exporter's own stats, process-wide (every VM and plugin adds to the same). */
export const STAT_PREFIX = "protomesh_otlp.";
export namespace OtlpStat {
  export const EXPORTS_OK: i32 = 0;
  export const EXPORTS_FAILED: i32 = 1;
  export const EXPORTS_TIMED_OUT: i32 = 2;
  export const LOG_RECORDS_EXPORTED: i32 = 3;
  export const LOG_RECORDS_DROPPED: i32 = 4;
  export const METRIC_POINTS_EXPORTED: i32 = 5;
  export const METRIC_SERIES_OVERFLOW: i32 = 6;
  export const LOG_QUEUE_RECORDS: i32 = 7;
}
export const OTLP_STAT_NAMES: string[] = [
  "exports_ok", "exports_failed", "exports_timed_out", "log_records_exported", "log_records_dropped",
  "metric_points_exported", "metric_series_overflow", "log_queue_records",
];

/**
 * What a metrics pass reads: an ingestion adapter's label sets in a fixed order (new ones
 * appended), encoded a range at a time as `ScopeMetrics.metrics` entries.
 */
export abstract class OtlpMetricTable {
  /** Label sets so far. */
  abstract seriesCount(): i32;
  /** Writes the metrics of series [from, to); returns the number of data points written. */
  abstract encode(w: PbWriter, from: i32, to: i32, nowNs: u64): i32;
}

// proxy_grpc_call's token slot: static, so a call allocates nothing for it.
const TOKEN_SLOT: usize = memory.data(8);

export class OtlpExporter {
  private stats: StaticArray<u32> = new StaticArray<u32>(8);
  ready: bool = false;

  private service: ArrayBuffer;
  private logsService: ArrayBuffer = String.UTF8.encode(LOGS_SERVICE);
  private metricsService: ArrayBuffer = String.UTF8.encode(METRICS_SERVICE);
  private method: ArrayBuffer = String.UTF8.encode(EXPORT_METHOD);
  private metadata: ArrayBuffer = serializePairs(new Array<HeaderPair>());
  private resource: ArrayBuffer = new ArrayBuffer(0);
  private scope: ArrayBuffer;

  /** Encoded `ScopeLogs.log_records` entries, oldest first; ends[i] = end of record i. */
  private queue: PbWriter = new PbWriter(4096);
  private ends: StaticArray<i32>;
  private count: i32 = 0;
  private recordStart: i32 = -1;

  private request: PbWriter = new PbWriter(4096);
  metrics: OtlpMetricTable | null = null;

  state: ExportState = ExportState.Idle;
  private token: u32 = 0;
  private sentAtNs: u64 = 0;
  private inFlightRecords: i32 = 0;
  private inFlightPoints: i32 = 0;
  /** Next metric series to send in this pass; -1 when no pass is running. */
  private metricsCursor: i32 = -1;
  private flushLogs: bool = false;
  /** After a failed export: nothing more until the next tick. */
  private backoff: bool = false;
  private failing: bool = false;

  private calling: bool = false;
  private inlineClosed: bool = false;
  private inlineStatus: u32 = 0;

  constructor(public config: OtlpConfig, scopeName: string, scopeVersion: string) {
    this.service = encodeGrpcService(config.cluster, config.authority);
    this.scope = encodeScopeField(scopeName, scopeVersion);
    this.ends = new StaticArray<i32>(config.maxQueueSize);
  }

  /**
   * Defines the stats as `prefix` + OTLP_STAT_NAMES (tcp-stats: process-wide `protomesh_otlp.`;
   * an http-telemetry handler: its own `<stat_prefix>.handler.<name>.`); false (logged) when the
   * host refused one.
   */
  defineStats(prefix: string = STAT_PREFIX): bool {
    for (let i = 0; i < OTLP_STAT_NAMES.length; i++) {
      const type = i == OtlpStat.LOG_QUEUE_RECORDS ? MetricType.Gauge : MetricType.Counter;
      const r = defineMetric(type, prefix + OTLP_STAT_NAMES[i]);
      if (r.status != WasmResult.Ok) {
        log(LogLevel.Error, "otlp: defining metric " + prefix + OTLP_STAT_NAMES[i] + " failed status=" + (<i32>r.status).toString());
        return false;
      }
      this.stats[i] = r.value;
    }
    this.ready = true;
    return true;
  }

  /** The local workload's resource attributes (read once per VM from the node metadata). */
  setResource(local: Workload, instanceId: string): void {
    this.resource = encodeResourceField(local, instanceId);
  }

  // Envoy answers BadArgument to a counter increment of 0 (context.cc incrementMetric).
  private count_(stat: i32, n: i64): void {
    if (this.ready && n != 0) incrementMetric(unchecked(this.stats[stat]), n);
  }

  /** The last export failed (until one succeeds): what is queued now may be lost. */
  get exportFailing(): bool {
    return this.failing;
  }

  /** Records queued and not yet sent. */
  get queued(): i32 {
    return this.count;
  }

  // ---- log records -----------------------------------------------------------------------

  /**
   * The writer to append one `ScopeLogs.log_records` entry to, or null when the queue is full
   * (the record is counted as dropped). Finish with commitLogRecord().
   */
  beginLogRecord(): PbWriter | null {
    if (!this.config.logs) return null;
    if (this.count >= this.ends.length) {
      this.count_(OtlpStat.LOG_RECORDS_DROPPED, 1);
      return null;
    }
    this.recordStart = this.queue.len;
    return this.queue;
  }

  /** Queues the record begun by beginLogRecord(); false when it was dropped (nesting overflow). */
  commitLogRecord(): bool {
    const q = this.queue;
    if (this.recordStart < 0) return false;
    if (q.overflowed) {
      q.truncate(this.recordStart);
      q.overflowed = false;
      this.recordStart = -1;
      this.count_(OtlpStat.LOG_RECORDS_DROPPED, 1);
      return false;
    }
    this.recordStart = -1;
    unchecked(this.ends[this.count++] = q.len);
    this.count_(OtlpStat.LOG_QUEUE_RECORDS, 1);
    if (this.count >= this.config.batchSize) this.pump();
    return true;
  }

  // ---- driving -----------------------------------------------------------------------------

  /** Every flush interval: the watchdog, a flush of queued records, a metrics pass. */
  onTick(): void {
    if (this.state != ExportState.Idle) {
      // Envoy's async client ends the call at timeout_ms; this only covers a host that never
      // answers (twice the timeout, then the call is cancelled and counted as timed out).
      const now = getCurrentTimeNanoseconds();
      if (now - this.sentAtNs > <u64>this.config.timeoutMs * 2000000) {
        grpcCancel(this.token);
        this.failed(GRPC_DEADLINE_EXCEEDED, "no answer; cancelled");
      }
    }
    this.backoff = false;
    if (this.count > 0) this.flushLogs = true;
    const m = this.metrics;
    if (this.config.metrics && m !== null && this.metricsCursor < 0 && m.seriesCount() > 0) this.metricsCursor = 0;
    this.pump();
  }

  /** Sends the next request when no call is outstanding. */
  pump(): void {
    if (this.state != ExportState.Idle || this.backoff) return;
    if (this.count > 0 && (this.count >= this.config.batchSize || this.flushLogs)) {
      this.sendLogs();
      return;
    }
    this.flushLogs = false;
    const m = this.metrics;
    if (this.metricsCursor < 0 || m === null) return;
    if (this.metricsCursor >= m.seriesCount()) {
      this.metricsCursor = -1;
      return;
    }
    this.sendMetrics(m);
  }

  private sendLogs(): void {
    const n = this.count < this.config.batchSize ? this.count : this.config.batchSize;
    const bytes = unchecked(this.ends[n - 1]);
    const w = this.request;
    w.reset();
    w.begin(REQUEST_RESOURCES);
    w.rawBytes(this.resource);
    w.begin(RESOURCE_X_SCOPE);
    w.rawBytes(this.scope);
    w.raw(this.queue.dataStart, bytes);
    w.end();
    w.end();
    this.queue.dropFront(bytes);
    for (let i = n; i < this.count; i++) unchecked(this.ends[i - n] = this.ends[i] - bytes);
    this.count -= n;
    this.count_(OtlpStat.LOG_QUEUE_RECORDS, -<i64>n);
    this.inFlightRecords = n;
    this.call(ExportState.ExportingLogs, this.logsService);
  }

  private sendMetrics(m: OtlpMetricTable): void {
    const from = this.metricsCursor;
    const to = from + METRIC_SERIES_PER_EXPORT;
    const w = this.request;
    w.reset();
    w.begin(REQUEST_RESOURCES);
    w.rawBytes(this.resource);
    w.begin(RESOURCE_X_SCOPE);
    w.rawBytes(this.scope);
    this.inFlightPoints = m.encode(w, from, to, getCurrentTimeNanoseconds());
    w.end();
    w.end();
    const n = m.seriesCount();
    this.metricsCursor = to < n ? to : n;
    this.call(ExportState.ExportingMetrics, this.metricsService);
  }

  private call(state: ExportState, serviceName: ArrayBuffer): void {
    const w = this.request;
    this.state = state;
    if (w.overflowed) {
      this.failed(0, "request encoding overflowed");
      return;
    }
    this.calling = true;
    this.inlineClosed = false;
    store<u32>(TOKEN_SLOT, 0);
    const r = imp.proxy_grpc_call(
      changetype<usize>(this.service), this.service.byteLength,
      changetype<usize>(serviceName), serviceName.byteLength,
      changetype<usize>(this.method), this.method.byteLength,
      changetype<usize>(this.metadata), this.metadata.byteLength,
      w.dataStart, w.len, <u32>this.config.timeoutMs, TOKEN_SLOT);
    this.calling = false;
    if (r != WasmResult.Ok) {
      this.failed(0, "grpc_call to cluster " + this.config.cluster + " refused, status " + r.toString());
      return;
    }
    this.token = load<u32>(TOKEN_SLOT);
    this.sentAtNs = getCurrentTimeNanoseconds();
    if (this.inlineClosed) this.failed(this.inlineStatus, "closed while the call was made");
  }

  /** proxy_on_grpc_receive on the root context. */
  onGrpcReceive(token: u32): void {
    if (this.state == ExportState.Idle || token != this.token) return;
    if (this.state == ExportState.ExportingLogs) {
      this.count_(OtlpStat.LOG_RECORDS_EXPORTED, this.inFlightRecords);
    } else {
      this.count_(OtlpStat.METRIC_POINTS_EXPORTED, this.inFlightPoints);
    }
    this.count_(OtlpStat.EXPORTS_OK, 1);
    if (this.failing) {
      this.failing = false;
      log(LogLevel.Info, "otlp: exports to cluster " + this.config.cluster + " succeed again");
    }
    this.done();
    this.pump();
  }

  /** proxy_on_grpc_close on the root context: the call failed (a unary success never closes). */
  onGrpcClose(token: u32, status: u32): void {
    if (this.calling) {
      this.inlineClosed = true;
      this.inlineStatus = status;
      return;
    }
    if (this.state == ExportState.Idle || token != this.token) return;
    this.failed(status, "");
  }

  private failed(status: u32, why: string): void {
    const state = this.state;
    if (status == GRPC_DEADLINE_EXCEEDED) this.count_(OtlpStat.EXPORTS_TIMED_OUT, 1);
    else this.count_(OtlpStat.EXPORTS_FAILED, 1);
    if (state == ExportState.ExportingLogs) this.count_(OtlpStat.LOG_RECORDS_DROPPED, this.inFlightRecords);
    // Cumulative metrics: the next pass sends the totals again.
    if (state == ExportState.ExportingMetrics) this.metricsCursor = -1;
    if (!this.failing) {
      this.failing = true;
      log(LogLevel.Warn, "otlp: export to cluster " + this.config.cluster + " failed while " +
        EXPORT_STATE_NAMES[<i32>state] + ", grpc status " + status.toString() +
        (why.length > 0 ? " (" + why + ")" : "") + "; retrying at the next flush");
    }
    this.done();
    this.backoff = true;
  }

  private done(): void {
    this.state = ExportState.Idle;
    this.token = 0;
    this.inFlightRecords = 0;
    this.inFlightPoints = 0;
  }

  /**
   * Ends this exporter (a new configuration replaces it): queued records are counted as dropped
   * and leave the queue gauge; an answer to its outstanding call is ignored by the next one.
   */
  retire(): void {
    this.count_(OtlpStat.LOG_RECORDS_DROPPED, this.count);
    this.count_(OtlpStat.LOG_QUEUE_RECORDS, -<i64>this.count);
    this.count = 0;
    this.queue.reset();
    this.done();
  }

  /** Counts label sets sent to the overflow series. */
  countOverflow(): void {
    this.count_(OtlpStat.METRIC_SERIES_OVERFLOW, 1);
  }
}
