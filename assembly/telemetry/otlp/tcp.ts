// What the OTLP backend exports for TCP connections: one LogRecord per connection and Istio's
// four TCP metrics plus a duration histogram as cumulative OTLP metrics, with Istio's TCP labels
// as attributes. Pure code: the exporter (./exporter.ts) sends what this builds.
import { AttributeBag } from "../attributes";
import { TCP_LABELS } from "../tcp-labels";
import { encodeTags, overflowTags, OVERFLOW } from "../prometheus";
import { PbWriter } from "./writer";
import { OtlpMetricTable } from "./exporter";
import { LogRecordField, beginLogRecordFields, endLogRecord, encodeAttributeSet, kvBool, kvInt, kvString } from "./messages";
import { ENVOY_DEFAULT_BOUNDS, OtlpHistogram, beginMetric, endMetric, writeHistogramPoint, writeSumPoint } from "./metrics";

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
  beginLogRecordFields(w, endNs, LOG_BODY);
  const a = LogRecordField.ATTRIBUTES;
  const n = TCP_LABELS.length < values.length ? TCP_LABELS.length : values.length;
  for (let i = 0; i < n; i++) kvString(w, a, TCP_LABELS[i], values[i]);
  kvInt(w, a, ATTR_RECEIVED_BYTES, <i64>bag.receivedBytes);
  kvInt(w, a, ATTR_SENT_BYTES, <i64>bag.sentBytes);
  kvInt(w, a, ATTR_DURATION_MS, <i64>durationMs);
  kvBool(w, a, ATTR_MTLS, bag.connectionMtls);
  if (bag.sourceAddress.length > 0) kvString(w, a, ATTR_SOURCE_ADDRESS, bag.sourceAddress);
  if (bag.destinationAddress.length > 0) kvString(w, a, ATTR_DESTINATION_ADDRESS, bag.destinationAddress);
  endLogRecord(w, endNs);
}

/** The duration histogram's bounds (Envoy's default buckets, as its `connection_duration_ms`). */
export const DURATION_BOUNDS_MS: StaticArray<f64> = ENVOY_DEFAULT_BOUNDS;

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
  duration: OtlpHistogram = new OtlpHistogram();

  constructor(public attributes: ArrayBuffer, public startNs: u64) {}

  add(m: TcpSum, n: u64): void {
    unchecked(this.sums[<i32>m] += n);
  }

  recordDuration(ms: u64): void {
    this.duration.record(<f64>ms);
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
      beginMetric(w, this.prefix + tcpSumName(<TcpSum>m), sumDescription(<TcpSum>m), sumUnit(<TcpSum>m), false);
      for (let i = from; i < to; i++) {
        const s = unchecked(this.series[i]);
        writeSumPoint(w, s.attributes, s.startNs, nowNs, unchecked(s.sums[m]));
      }
      endMetric(w, false);
    }
    beginMetric(w, this.prefix + DURATION_METRIC, "TCP connection lifetime, new connection to close", "ms", true);
    for (let i = from; i < to; i++) {
      const s = unchecked(this.series[i]);
      writeHistogramPoint(w, s.attributes, s.startNs, nowNs, s.duration);
    }
    endMetric(w, true);
    return (to - from) * (SUMS + 1);
  }
}
