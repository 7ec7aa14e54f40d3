// Per-VM table of Prometheus series for the TCP metrics: one entry per distinct label set,
// bounded; label sets beyond the bound go to one overflow series (every label `overflow`) and
// are counted. Each series is four host counters defined once (proxy_define_metric), so the
// data path is a map lookup per connection and one host call per increment.
import { MetricType, WasmResult } from "../runtime/enums";
import { defineMetric, incrementMetric, recordMetric } from "../runtime/hostcalls";
import { TcpMetric, encodeTags, overflowTags, tcpMetricName } from "./prometheus";

export class TcpSeries {
  ids: StaticArray<u32> = new StaticArray<u32>(4);
  ok: bool = true;

  add(m: TcpMetric, n: u64): void {
    // Envoy answers BadArgument to a counter increment of 0 (context.cc incrementMetric).
    if (this.ok && n > 0) incrementMetric(this.ids[<i32>m], <i64>n);
  }
}

export class TcpSeriesTable {
  private byTags: Map<string, TcpSeries> = new Map<string, TcpSeries>();
  private overflow: TcpSeries | null = null;
  /** Label sets that did not fit (one increment per connection sent to the overflow series). */
  overflowed: u64 = 0;

  constructor(public prefix: string, public maxSeries: i32, public overflowCounter: u32) {}

  get size(): i32 {
    return this.byTags.size;
  }

  private define(tags: string): TcpSeries {
    const s = new TcpSeries();
    for (let m = 0; m < 4; m++) {
      const r = defineMetric(MetricType.Counter, tags + this.prefix + tcpMetricName(<TcpMetric>m));
      if (r.status != WasmResult.Ok) s.ok = false;
      s.ids[m] = r.value;
    }
    return s;
  }

  /** The series for these label values (TCP_LABELS order). */
  get(values: string[]): TcpSeries {
    const tags = encodeTags(values);
    if (this.byTags.has(tags)) return this.byTags.get(tags);
    if (this.byTags.size < this.maxSeries) {
      const s = this.define(tags);
      this.byTags.set(tags, s);
      return s;
    }
    this.overflowed++;
    incrementMetric(this.overflowCounter, 1);
    let o = this.overflow;
    if (o === null) {
      o = this.define(overflowTags());
      this.overflow = o;
    }
    return o;
  }
}

/**
 * One label set's metrics for any metric list (the HTTP adapter's counter and three histograms):
 * host ids defined once, `ok` false when a definition failed.
 */
export class MetricSeries {
  ids: StaticArray<u32>;
  ok: bool = true;

  constructor(n: i32) {
    this.ids = new StaticArray<u32>(n);
  }

  /** Counter increment; false when the host refused it. Envoy answers BadArgument to 0. */
  add(i: i32, n: u64): bool {
    if (!this.ok) return false;
    return n == 0 || incrementMetric(this.ids[i], <i64>n) == WasmResult.Ok;
  }

  /** Histogram sample; false when the host refused it. */
  record(i: i32, v: u64): bool {
    if (!this.ok) return false;
    return recordMetric(this.ids[i], v) == WasmResult.Ok;
  }
}

/**
 * Per-VM table of label sets → MetricSeries, bounded like TcpSeriesTable: label sets beyond
 * `maxSeries` share one overflow series (every label `overflow`) and are counted on
 * `overflowCounter`. `tags` is the encoded label set (`k=.=v;.;…`); each metric's full name is
 * `tags + names[i]`.
 */
export class SeriesTable {
  private byTags: Map<string, MetricSeries> = new Map<string, MetricSeries>();
  private overflow: MetricSeries | null = null;
  overflowed: u64 = 0;

  constructor(
    public names: string[],
    public types: MetricType[],
    public overflowKey: string,
    public maxSeries: i32,
    public overflowCounter: u32,
  ) {}

  get size(): i32 {
    return this.byTags.size;
  }

  private define(tags: string): MetricSeries {
    const s = new MetricSeries(this.names.length);
    for (let m = 0; m < this.names.length; m++) {
      const r = defineMetric(this.types[m], tags + this.names[m]);
      if (r.status != WasmResult.Ok) s.ok = false;
      s.ids[m] = r.value;
    }
    return s;
  }

  get(tags: string): MetricSeries {
    if (this.byTags.has(tags)) return this.byTags.get(tags);
    if (this.byTags.size < this.maxSeries) {
      const s = this.define(tags);
      this.byTags.set(tags, s);
      return s;
    }
    this.overflowed++;
    incrementMetric(this.overflowCounter, 1);
    let o = this.overflow;
    if (o === null) {
      o = this.define(this.overflowKey);
      this.overflow = o;
    }
    return o;
  }
}

/** `k=.=v;.;` for each key and value, the form Istio's bootstrap extracts. */
export function encodeLabels(keys: string[], values: string[]): string {
  let s = "";
  for (let i = 0; i < keys.length; i++) s += keys[i] + "=.=" + values[i] + ";.;";
  return s;
}

/** Every key with the value `overflow`. */
export function overflowLabels(keys: string[]): string {
  let s = "";
  for (let i = 0; i < keys.length; i++) s += keys[i] + "=.=overflow;.;";
  return s;
}
