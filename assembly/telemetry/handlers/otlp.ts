// otlp backend: sends requests to an OpenTelemetry collector over OTLP/gRPC (proxy_grpc_call),
// through the exporter tcp-stats uses (../otlp/exporter.ts: bounded queue, one outstanding call,
// drops counted; docs/adr/0007-otlp-export.md):
// - logs: one LogRecord per request with the chosen attributes under their Mixer names, typed as
//   the access log writes them (numbers as int_value, connection.mtls as bool_value);
// - metrics: Istio's request metrics as cumulative OTLP metrics, one series per Istio label set
//   (the prometheus handler's labels), summed in the VM and sent on the flush interval.
import { getCurrentTimeNanoseconds } from "../../runtime/hostcalls";
import { Workload } from "../attributes";
import { HTTP_LABELS, HTTP_METRICS } from "../http-labels";
import { AttrJson, attrName, RequestAttributes, attrJsonFor, attrValue } from "../request";
import { OtlpConfig } from "../otlp/config";
import { OtlpExporter, OtlpMetricTable } from "../otlp/exporter";
import { LogRecordField, beginLogRecordFields, encodeAttributeSet, endLogRecord, kvBool, kvInt, kvString } from "../otlp/messages";
import { OtlpHistogram, beginMetric, endMetric, writeHistogramPoint, writeSumPoint } from "../otlp/metrics";
import { PbWriter } from "../otlp/writer";
import { OVERFLOW } from "../prometheus";
import { MetricNames, connectionKey, istioRequestPart, metricPrefix } from "./prometheus";
import { ConnectionAttributes, Handler } from "./handler";

/**
 * A tick this close to the flush time counts as on time: the filter's tick period is the
 * smallest its handlers ask for, so a flush interval is a whole number of ticks give or take
 * the timer's jitter.
 */
const TICK_SLACK_NS: u64 = 50000000;

/** Istio's labels of a series in HTTP_LABELS order, from its key (`k=.=v;.;…`, connectionKey + istioRequestPart). */
export function labelsFromTags(tags: string): string[] {
  const values = new Array<string>(HTTP_LABELS.length);
  for (let i = 0; i < values.length; i++) values[i] = "";
  let p = 0;
  while (p < tags.length) {
    const eq = tags.indexOf("=.=", p);
    const end = eq < 0 ? -1 : tags.indexOf(";.;", eq + 3);
    if (end < 0) break;
    const i = HTTP_LABELS.indexOf(tags.substring(p, eq));
    if (i >= 0) values[i] = tags.substring(eq + 3, end);
    p = end + 3;
  }
  return values;
}

/** One label set's cumulative values since `startNs`: the request count and three histograms. */
export class OtlpHttpSeries {
  requests: u64 = 0;
  duration: OtlpHistogram = new OtlpHistogram();
  requestBytes: OtlpHistogram = new OtlpHistogram();
  responseBytes: OtlpHistogram = new OtlpHistogram();

  constructor(public attributes: ArrayBuffer, public startNs: u64) {}

  add(r: RequestAttributes): void {
    this.requests++;
    this.duration.record(<f64>r.durationMs);
    this.requestBytes.record(<f64>r.requestBytes);
    this.responseBytes.record(<f64>r.responseBytes);
  }
}

const UNITS: string[] = ["{request}", "ms", "By", "By"];
const DESCRIPTIONS: string[] = [
  "Requests", "Request duration, request start to the end of the response",
  "Request size: header and body bytes", "Response size: header and body bytes",
];

/**
 * Per-VM table of Istio label sets, bounded like the prometheus handler's (max_series; beyond it
 * one overflow series whose every attribute is `overflow`, counted by the caller).
 */
export class OtlpHttpMetrics extends OtlpMetricTable {
  private byTags: Map<string, i32> = new Map<string, i32>();
  series: OtlpHttpSeries[] = [];
  private overflow: OtlpHttpSeries | null = null;
  overflowed: u64 = 0;

  /** `prefix`: `istio_` or `protomesh_` (the handler's metric_names). */
  constructor(public prefix: string, public maxSeries: i32) {
    super();
  }

  seriesCount(): i32 {
    return this.series.length;
  }

  /** The series of the label set `tags` (connectionKey + istioRequestPart), null when it has none yet. */
  find(tags: string): OtlpHttpSeries | null {
    return this.byTags.has(tags) ? unchecked(this.series[this.byTags.get(tags)]) : null;
  }

  /** The series of the label set `tags`; `nowNs` starts a new one. */
  get(tags: string, nowNs: u64): OtlpHttpSeries {
    const found = this.find(tags);
    if (found !== null) return found;
    if (this.byTags.size < this.maxSeries) {
      const s = new OtlpHttpSeries(encodeAttributeSet(HTTP_LABELS, labelsFromTags(tags)), nowNs);
      this.byTags.set(tags, this.series.length);
      this.series.push(s);
      return s;
    }
    this.overflowed++;
    let o = this.overflow;
    if (o === null) {
      const all = new Array<string>(HTTP_LABELS.length);
      for (let i = 0; i < all.length; i++) all[i] = OVERFLOW;
      o = new OtlpHttpSeries(encodeAttributeSet(HTTP_LABELS, all), nowNs);
      this.overflow = o;
      this.series.push(o);
    }
    return o;
  }

  /** Appends the request count (Sum) and the three histograms for series [from, to). */
  encode(w: PbWriter, from: i32, to: i32, nowNs: u64): i32 {
    if (to > this.series.length) to = this.series.length;
    if (from >= to) return 0;
    for (let m = 0; m < HTTP_METRICS.length; m++) {
      const histogram = m > 0;
      beginMetric(w, this.prefix + HTTP_METRICS[m], DESCRIPTIONS[m], UNITS[m], histogram);
      for (let i = from; i < to; i++) {
        const s = unchecked(this.series[i]);
        if (!histogram) writeSumPoint(w, s.attributes, s.startNs, nowNs, s.requests);
        else writeHistogramPoint(w, s.attributes, s.startNs, nowNs, m == 1 ? s.duration : m == 2 ? s.requestBytes : s.responseBytes);
      }
      endMetric(w, histogram);
    }
    return (to - from) * HTTP_METRICS.length;
  }
}

/**
 * One request's LogRecord: `attrs` (request.ts Attr indexes) under their Mixer names, numbers as
 * int_value and connection.mtls as bool_value, like the access log's JSON. Its time is the
 * request's start (end less response.duration), as Envoy's OpenTelemetry access logger sets
 * time_unix_nano from the stream's start time (envoy source/extensions/access_loggers/
 * open_telemetry/access_log_impl.cc, emitLog: `stream_info.startTime()`); observed at `nowNs`,
 * when the VM saw it end.
 */
export function encodeHttpLogRecord(w: PbWriter, attrs: i32[], conn: ConnectionAttributes, r: RequestAttributes, nowNs: u64): void {
  const took = r.durationMs * 1000000;
  beginLogRecordFields(w, nowNs > took ? nowNs - took : nowNs, r.protocol() + " request");
  const field = LogRecordField.ATTRIBUTES;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i];
    const key = attrName(a);
    const v = attrValue(a, conn.bag, r);
    const t = attrJsonFor(a, r);
    if (t == AttrJson.Number) kvInt(w, field, key, I64.parseInt(v));
    else if (t == AttrJson.Bool) kvBool(w, field, key, v == "true");
    else kvString(w, field, key, v);
  }
  endLogRecord(w, nowNs);
}

export class OtlpHandler extends Handler {
  /** Export settings (the fields tcp-stats' `otlp` object has; defaults in ../otlp/defaults.ts). */
  config: OtlpConfig = new OtlpConfig();
  /** Log record attributes (request.ts Attr indexes), in order. */
  attrs: i32[] = [];
  names: MetricNames = MetricNames.Auto;
  maxSeries: i32 = 1000;
  exporter: OtlpExporter | null = null;
  table: OtlpHttpMetrics | null = null;
  private nextFlushNs: u64 = 0;
  /** The exporter's failing state as last seen (follow()). */
  private exportFailed: bool = false;

  constructor(name: string) {
    super(name, "otlp");
  }

  /**
   * Starts the exporter: its counters `statPrefix` + exports_ok, log_records_dropped, …, the
   * resource of `local`, metric names by `istioProxy` (as the prometheus handler's). False when
   * the host refused a counter (logged).
   */
  start(scope: string, statPrefix: string, local: Workload, instanceId: string, istioProxy: bool): bool {
    const e = new OtlpExporter(this.config, scope, "");
    if (!e.defineStats(statPrefix)) return false;
    e.setResource(local, instanceId);
    if (this.config.metrics) {
      const m = new OtlpHttpMetrics(metricPrefix(this.names, istioProxy), this.maxSeries);
      e.metrics = m;
      this.table = m;
    }
    this.exporter = e;
    this.nextFlushNs = getCurrentTimeNanoseconds() + <u64>this.config.flushIntervalMs * 1000000;
    return true;
  }

  /** A new configuration replaces this handler: queued records are counted as dropped. */
  retire(): void {
    const e = this.exporter;
    if (e !== null) e.retire();
    this.exporter = null;
  }

  /**
   * Queues the request's log record and adds it to its series. False (a failure: counted, and a
   * fail-closed handler refuses requests) when the record was dropped (queue full) or the last
   * export failed (the collector is not taking what is queued).
   */
  report(conn: ConnectionAttributes, r: RequestAttributes): bool {
    const e = this.exporter;
    if (e === null) return false;
    let ok = !e.exportFailing;
    let now: u64 = 0;
    const m = this.table;
    if (m !== null) {
      const tags = connectionKey(conn) + istioRequestPart(conn, r);
      let s = m.find(tags);
      // The clock only starts a series (a known one needs no host call).
      if (s === null) {
        now = getCurrentTimeNanoseconds();
        const before = m.overflowed;
        s = m.get(tags, now);
        if (m.overflowed != before) e.countOverflow();
      }
      s.add(r);
    }
    if (this.config.logs) {
      const w = e.beginLogRecord();
      if (w === null) return false;
      if (now == 0) now = getCurrentTimeNanoseconds();
      encodeHttpLogRecord(w, this.attrs, conn, r, now);
      if (!e.commitLogRecord()) ok = false;
    }
    return ok;
  }

  tickPeriodMs(): u32 {
    return <u32>this.config.flushIntervalMs;
  }

  /** Every flush_interval_ms (the filter may tick more often for other handlers). */
  onTick(nowNs: u64): void {
    const e = this.exporter;
    if (e === null || nowNs + TICK_SLACK_NS < this.nextFlushNs) return;
    this.nextFlushNs = nowNs + <u64>this.config.flushIntervalMs * 1000000;
    e.onTick();
    this.follow(e);
  }

  onGrpcReceive(token: u32): void {
    const e = this.exporter;
    if (e === null) return;
    e.onGrpcReceive(token);
    this.follow(e);
  }

  onGrpcClose(token: u32, status: u32): void {
    const e = this.exporter;
    if (e === null) return;
    e.onGrpcClose(token, status);
    this.follow(e);
  }

  /**
   * The handler fails when an export fails, not at the next report: a fail-closed otlp handler
   * refuses requests from then on, and takes them again once an export succeeds.
   */
  private follow(e: OtlpExporter): void {
    const now = e.exportFailing;
    if (now == this.exportFailed) return;
    this.exportFailed = now;
    this.failing = now;
  }
}

// What a filter carrying the engine calls for its otlp handlers (http-telemetry does; an RPC
// filter feeding the same handlers does the same from its root context).

/** A grpc_call's answer (proxy_on_grpc_receive on the root context) to every otlp handler: each exporter knows its own token. */
export function otlpGrpcReceive(handlers: Handler[], token: u32): void {
  for (let i = 0; i < handlers.length; i++) if (handlers[i].kind == "otlp") changetype<OtlpHandler>(handlers[i]).onGrpcReceive(token);
}

/** proxy_on_grpc_close on the root context, to every otlp handler. */
export function otlpGrpcClose(handlers: Handler[], token: u32, status: u32): void {
  for (let i = 0; i < handlers.length; i++) if (handlers[i].kind == "otlp") changetype<OtlpHandler>(handlers[i]).onGrpcClose(token, status);
}

/** A new configuration replaced `handlers`: their otlp exporters retire (queued records counted as dropped). */
export function retireOtlpHandlers(handlers: Handler[]): void {
  for (let i = 0; i < handlers.length; i++) if (handlers[i].kind == "otlp") changetype<OtlpHandler>(handlers[i]).retire();
}
