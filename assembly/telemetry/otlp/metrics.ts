// The metric pieces every ingestion adapter's OTLP table writes: cumulative histograms with
// Envoy's default bounds, and the Sum / Histogram metrics with their data points (field numbers:
// ./messages.ts). Pure code: ./tcp.ts (TCP connections) and ../handlers/otlp.ts (requests) use it.
import { PbWriter } from "./writer";
import {
  AGGREGATION_TEMPORALITY, DATA_POINTS, HistogramPointField, MetricField, NumberPointField, SCOPE_X_ITEMS,
  SUM_IS_MONOTONIC, TEMPORALITY_CUMULATIVE, writeAttributes,
} from "./messages";

/**
 * Explicit bounds of every OTLP histogram: Envoy's default buckets (envoy source/common/stats/
 * histogram_impl.cc HistogramSettingsImpl::defaultBuckets), which Istio's own histograms use too
 * unless the pod annotation `sidecar.istio.io/statsHistogramBuckets` changes them, so an OTLP
 * histogram buckets like the Prometheus one of the same name.
 */
export const ENVOY_DEFAULT_BOUNDS: StaticArray<f64> = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** One cumulative histogram point: bucket counts, count, sum, min, max. */
export class OtlpHistogram {
  buckets: StaticArray<u64> = new StaticArray<u64>(ENVOY_DEFAULT_BOUNDS.length + 1);
  count: u64 = 0;
  sum: f64 = 0;
  min: f64 = 0;
  max: f64 = 0;

  record(v: f64): void {
    let i = 0;
    // Bucket i counts values <= bound i (explicit_bounds: "(bounds[i-1], bounds[i]]").
    while (i < ENVOY_DEFAULT_BOUNDS.length && v > unchecked(ENVOY_DEFAULT_BOUNDS[i])) i++;
    unchecked(this.buckets[i] += 1);
    if (this.count == 0 || v < this.min) this.min = v;
    if (this.count == 0 || v > this.max) this.max = v;
    this.count++;
    this.sum += v;
  }
}

/** Opens a `ScopeMetrics.metrics` entry and its Sum (`histogram` false) or Histogram. */
export function beginMetric(w: PbWriter, name: string, description: string, unit: string, histogram: bool): void {
  w.begin(SCOPE_X_ITEMS);
  w.stringField(MetricField.NAME, name);
  w.stringField(MetricField.DESCRIPTION, description);
  w.stringField(MetricField.UNIT, unit);
  w.begin(histogram ? MetricField.HISTOGRAM : MetricField.SUM);
}

/** Closes a metric opened by beginMetric: cumulative, and monotonic for a Sum. */
export function endMetric(w: PbWriter, histogram: bool): void {
  w.varintField(AGGREGATION_TEMPORALITY, TEMPORALITY_CUMULATIVE);
  if (!histogram) w.varintField(SUM_IS_MONOTONIC, 1);
  w.end();
  w.end();
}

/** One NumberDataPoint of a monotonic Sum: `attributes` from encodeAttributeSet(). */
export function writeSumPoint(w: PbWriter, attributes: ArrayBuffer, startNs: u64, nowNs: u64, value: u64): void {
  w.begin(DATA_POINTS);
  writeAttributes(w, NumberPointField.ATTRIBUTES, attributes);
  w.fixed64Field(NumberPointField.START_TIME, startNs);
  w.fixed64Field(NumberPointField.TIME, nowNs);
  w.fixed64Field(NumberPointField.AS_INT, value);
  w.end();
}

/** One HistogramDataPoint; min and max only once a value was recorded. */
export function writeHistogramPoint(w: PbWriter, attributes: ArrayBuffer, startNs: u64, nowNs: u64, h: OtlpHistogram): void {
  w.begin(DATA_POINTS);
  writeAttributes(w, HistogramPointField.ATTRIBUTES, attributes);
  w.fixed64Field(HistogramPointField.START_TIME, startNs);
  w.fixed64Field(HistogramPointField.TIME, nowNs);
  w.fixed64Field(HistogramPointField.COUNT, h.count);
  w.doubleField(HistogramPointField.SUM, h.sum);
  w.begin(HistogramPointField.BUCKET_COUNTS);
  for (let b = 0; b < h.buckets.length; b++) w.fixed64(unchecked(h.buckets[b]));
  w.end();
  w.begin(HistogramPointField.EXPLICIT_BOUNDS);
  for (let b = 0; b < ENVOY_DEFAULT_BOUNDS.length; b++) w.fixed64(reinterpret<u64>(unchecked(ENVOY_DEFAULT_BOUNDS[b])));
  w.end();
  if (h.count > 0) {
    w.doubleField(HistogramPointField.MIN, h.min);
    w.doubleField(HistogramPointField.MAX, h.max);
  }
  w.end();
}
