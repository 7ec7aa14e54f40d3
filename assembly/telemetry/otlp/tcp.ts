// What the OTLP backend exports for TCP connections: one LogRecord per connection and Istio's
// four TCP metrics plus a duration histogram as cumulative OTLP metrics, with Istio's TCP labels
// as attributes. Pure code: the exporter (./exporter.ts) sends what this builds.
import { AttributeBag } from "../attributes";
import { TCP_LABELS } from "../tcp-labels";
import { encodeTags, overflowTags, OVERFLOW } from "../prometheus";
import { PbWriter } from "./writer";
import { OtlpMetricTable } from "./exporter";
import {
  AGGREGATION_TEMPORALITY, DATA_POINTS, HistogramPointField, LogRecordField, MetricField, NumberPointField,
  SCOPE_X_ITEMS, SEVERITY_INFO, SUM_IS_MONOTONIC, TEMPORALITY_CUMULATIVE, encodeAttributeSet, kvBool, kvInt, kvString,
  writeAttributes,
} from "./messages";

/** Log record attributes beyond Istio's labels (Mixer attribute names where Mixer had one). */
export const ATTR_RECEIVED_BYTES = "connection.received.bytes";
export const ATTR_SENT_BYTES = "connection.sent.bytes";
export const ATTR_DURATION_MS = "connection.duration_ms";
export const ATTR_MTLS = "connection.mtls";
export const ATTR_SOURCE_ADDRESS = "source.address";
export const ATTR_DESTINATION_ADDRESS = "destination.address";
export const LOG_BODY = "tcp connection";

/**
 * Appends one `ScopeLogs.log_records` entry for a finished connection. `values` are Istio's TCP
 * label values for it (TCP_LABELS order, as the Prometheus adapter prints them).
 */
export function encodeTcpLogRecord(w: PbWriter, bag: AttributeBag, values: string[], endNs: u64, durationMs: u64): void {
  w.begin(2);
  w.fixed64Field(LogRecordField.TIME, endNs);
  w.varintField(LogRecordField.SEVERITY_NUMBER, SEVERITY_INFO);
  w.stringField(LogRecordField.SEVERITY_TEXT, "INFO");
  w.begin(LogRecordField.BODY);
  w.stringField(1, LOG_BODY);
  w.end();
  const a = LogRecordField.ATTRIBUTES;
  const n = TCP_LABELS.length < values.length ? TCP_LABELS.length : values.length;
  for (let i = 0; i < n; i++) kvString(w, a, TCP_LABELS[i], values[i]);
  kvInt(w, a, ATTR_RECEIVED_BYTES, <i64>bag.receivedBytes);
  kvInt(w, a, ATTR_SENT_BYTES, <i64>bag.sentBytes);
  kvInt(w, a, ATTR_DURATION_MS, <i64>durationMs);
  kvBool(w, a, ATTR_MTLS, bag.connectionMtls);
  if (bag.sourceAddress.length > 0) kvString(w, a, ATTR_SOURCE_ADDRESS, bag.sourceAddress);
  if (bag.destinationAddress.length > 0) kvString(w, a, ATTR_DESTINATION_ADDRESS, bag.destinationAddress);
  w.fixed64Field(LogRecordField.OBSERVED_TIME, endNs);
  w.end();
}

/**
 * Histogram bounds of the connection duration, in ms: Envoy's default buckets (envoy
 * source/common/stats/histogram_impl.cc HistogramSettingsImpl::defaultBuckets), so the OTLP
 * histogram and Envoy's own `connection_duration_ms` histogram bucket alike.
 */
export const DURATION_BOUNDS_MS: StaticArray<f64> = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export enum TcpSum {
  Opened = 0,
  Closed = 1,
  Received = 2,
  Sent = 3,
}
const SUMS: i32 = 4;

/** Metric names without the prefix (`istio_` or `protomesh_`, the istio_metrics choice). */
export function tcpSumName(m: TcpSum): string {
  switch (m) {
    case TcpSum.Opened: return "tcp_connections_opened_total";
    case TcpSum.Closed: return "tcp_connections_closed_total";
    case TcpSum.Received: return "tcp_received_bytes_total";
    default: return "tcp_sent_bytes_total";
  }
}

function sumUnit(m: TcpSum): string {
  return m == TcpSum.Received || m == TcpSum.Sent ? "By" : "{connection}";
}

function sumDescription(m: TcpSum): string {
  switch (m) {
    case TcpSum.Opened: return "TCP connections opened";
    case TcpSum.Closed: return "TCP connections closed";
    case TcpSum.Received: return "Bytes received from the downstream (downstream to upstream)";
    default: return "Bytes sent to the downstream (upstream to downstream)";
  }
}

export const DURATION_METRIC = "tcp_connection_duration_milliseconds";

/** One label set's cumulative values since `startNs`. */
export class OtlpTcpSeries {
  sums: StaticArray<u64> = new StaticArray<u64>(SUMS);
  buckets: StaticArray<u64> = new StaticArray<u64>(DURATION_BOUNDS_MS.length + 1);
  count: u64 = 0;
  sumMs: f64 = 0;
  minMs: f64 = 0;
  maxMs: f64 = 0;

  constructor(public attributes: ArrayBuffer, public startNs: u64) {}

  add(m: TcpSum, n: u64): void {
    unchecked(this.sums[<i32>m] += n);
  }

  recordDuration(ms: u64): void {
    const v = <f64>ms;
    let i = 0;
    // Bucket i counts values <= bound i (explicit_bounds: "(bounds[i-1], bounds[i]]").
    while (i < DURATION_BOUNDS_MS.length && v > unchecked(DURATION_BOUNDS_MS[i])) i++;
    unchecked(this.buckets[i] += 1);
    if (this.count == 0 || v < this.minMs) this.minMs = v;
    if (this.count == 0 || v > this.maxMs) this.maxMs = v;
    this.count++;
    this.sumMs += v;
  }
}

/**
 * Per-VM table of label sets, bounded like the Prometheus adapter's (max_series; beyond it one
 * overflow series whose every attribute is `overflow`, counted by the caller).
 */
export class OtlpTcpMetrics extends OtlpMetricTable {
  private byTags: Map<string, i32> = new Map<string, i32>();
  series: OtlpTcpSeries[] = [];
  private overflow: OtlpTcpSeries | null = null;
  overflowed: u64 = 0;

  constructor(public prefix: string, public maxSeries: i32) {
    super();
  }

  seriesCount(): i32 {
    return this.series.length;
  }

  /** The series for these label values (TCP_LABELS order); `nowNs` starts a new one. */
  get(values: string[], nowNs: u64): OtlpTcpSeries {
    const tags = encodeTags(values);
    if (this.byTags.has(tags)) return unchecked(this.series[this.byTags.get(tags)]);
    if (this.byTags.size < this.maxSeries) {
      const s = new OtlpTcpSeries(encodeAttributeSet(TCP_LABELS, values), nowNs);
      this.byTags.set(tags, this.series.length);
      this.series.push(s);
      return s;
    }
    this.overflowed++;
    let o = this.overflow;
    if (o === null) {
      const all = new Array<string>(TCP_LABELS.length);
      for (let i = 0; i < all.length; i++) all[i] = OVERFLOW;
      o = new OtlpTcpSeries(encodeAttributeSet(TCP_LABELS, all), nowNs);
      this.overflow = o;
      this.byTags.set(overflowTags(), this.series.length);
      this.series.push(o);
    }
    return o;
  }

  /**
   * Appends `ScopeMetrics.metrics` for series [from, to): the four sums and the histogram, one
   * point per series each. Returns the number of points written.
   */
  encode(w: PbWriter, from: i32, to: i32, nowNs: u64): i32 {
    if (to > this.series.length) to = this.series.length;
    if (from >= to) return 0;
    for (let m = 0; m < SUMS; m++) {
      w.begin(SCOPE_X_ITEMS);
      w.stringField(MetricField.NAME, this.prefix + tcpSumName(<TcpSum>m));
      w.stringField(MetricField.DESCRIPTION, sumDescription(<TcpSum>m));
      w.stringField(MetricField.UNIT, sumUnit(<TcpSum>m));
      w.begin(MetricField.SUM);
      for (let i = from; i < to; i++) {
        const s = unchecked(this.series[i]);
        w.begin(DATA_POINTS);
        writeAttributes(w, NumberPointField.ATTRIBUTES, s.attributes);
        w.fixed64Field(NumberPointField.START_TIME, s.startNs);
        w.fixed64Field(NumberPointField.TIME, nowNs);
        w.fixed64Field(NumberPointField.AS_INT, unchecked(s.sums[m]));
        w.end();
      }
      w.varintField(AGGREGATION_TEMPORALITY, TEMPORALITY_CUMULATIVE);
      w.varintField(SUM_IS_MONOTONIC, 1);
      w.end();
      w.end();
    }
    w.begin(SCOPE_X_ITEMS);
    w.stringField(MetricField.NAME, this.prefix + DURATION_METRIC);
    w.stringField(MetricField.DESCRIPTION, "TCP connection lifetime, new connection to close");
    w.stringField(MetricField.UNIT, "ms");
    w.begin(MetricField.HISTOGRAM);
    for (let i = from; i < to; i++) {
      const s = unchecked(this.series[i]);
      w.begin(DATA_POINTS);
      writeAttributes(w, HistogramPointField.ATTRIBUTES, s.attributes);
      w.fixed64Field(HistogramPointField.START_TIME, s.startNs);
      w.fixed64Field(HistogramPointField.TIME, nowNs);
      w.fixed64Field(HistogramPointField.COUNT, s.count);
      w.doubleField(HistogramPointField.SUM, s.sumMs);
      w.begin(HistogramPointField.BUCKET_COUNTS);
      for (let b = 0; b < s.buckets.length; b++) w.fixed64(unchecked(s.buckets[b]));
      w.end();
      w.begin(HistogramPointField.EXPLICIT_BOUNDS);
      for (let b = 0; b < DURATION_BOUNDS_MS.length; b++) w.fixed64(reinterpret<u64>(unchecked(DURATION_BOUNDS_MS[b])));
      w.end();
      if (s.count > 0) {
        w.doubleField(HistogramPointField.MIN, s.minMs);
        w.doubleField(HistogramPointField.MAX, s.maxMs);
      }
      w.end();
    }
    w.varintField(AGGREGATION_TEMPORALITY, TEMPORALITY_CUMULATIVE);
    w.end();
    w.end();
    return (to - from) * (SUMS + 1);
  }
}
