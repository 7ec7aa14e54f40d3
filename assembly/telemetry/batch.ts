// Metric updates kept in wasm memory and written to the host's metrics in one go (on tick, on
// done, before a configuration change), so a request makes no metric host call. Envoy's
// proxy_record_metric takes one sample (envoy source/extensions/common/wasm/context.cc,
// Context::recordMetric: `histogram->recordValue(value)`, no count), so a histogram's samples
// are kept one by one and recorded at the flush; a counter's requests are summed per series and
// written as one increment.
import { WasmResult } from "../runtime/enums";
import { incrementMetric } from "../runtime/hostcalls";
import { MetricSeries } from "./series";

/** Counter increments by host metric id, written as one increment per counter at the flush. */
export class PendingCounters {
  private ids: u32[] = [];
  private deltas: u64[] = [];
  private slot: Map<u32, i32> = new Map<u32, i32>();

  add(id: u32, n: u64): void {
    if (n == 0) return;
    if (this.slot.has(id)) {
      const i = this.slot.get(id);
      this.deltas[i] += n;
      return;
    }
    this.slot.set(id, this.ids.length);
    this.ids.push(id);
    this.deltas.push(n);
  }

  /** Pending increment of `id` (0 when none). */
  pending(id: u32): u64 {
    return this.slot.has(id) ? this.deltas[this.slot.get(id)] : 0;
  }

  /** Writes every increment; returns how many the host refused. */
  flush(): i32 {
    let refused = 0;
    for (let i = 0; i < this.ids.length; i++) {
      if (incrementMetric(this.ids[i], <i64>this.deltas[i]) != WasmResult.Ok) refused++;
    }
    // Lengths go to 0, capacities stay: a steady load allocates nothing per flush.
    this.ids.length = 0;
    this.deltas.length = 0;
    this.slot.clear();
    return refused;
  }
}

/**
 * One prometheus handler's updates since the last flush: per request, a counter increment
 * (metric 0) and one sample for each histogram (metrics 1..3), at most `capacity` requests; the
 * request that finds it full flushes first.
 */
export class SeriesBatch {
  private series: MetricSeries[] = [];
  private counts: u64[] = [];
  private slot: Map<usize, i32> = new Map<usize, i32>();
  private which: StaticArray<i32>;
  private samples: StaticArray<u64>;
  private n: i32 = 0;

  constructor(public capacity: i32) {
    this.which = new StaticArray<i32>(capacity);
    this.samples = new StaticArray<u64>(capacity * 3);
  }

  get size(): i32 {
    return this.n;
  }

  get full(): bool {
    return this.n >= this.capacity;
  }

  /** Keeps one request's updates; the caller flushes first when `full`. */
  add(s: MetricSeries, durationMs: u64, requestBytes: u64, responseBytes: u64): void {
    const key = changetype<usize>(s);
    let i: i32;
    if (this.slot.has(key)) {
      i = this.slot.get(key);
      this.counts[i] += 1;
    } else {
      i = this.series.length;
      this.slot.set(key, i);
      this.series.push(s);
      this.counts.push(1);
    }
    const k = this.n++;
    this.which[k] = i;
    this.samples[k * 3] = durationMs;
    this.samples[k * 3 + 1] = requestBytes;
    this.samples[k * 3 + 2] = responseBytes;
  }

  /** Writes every update to the host; returns the requests whose updates the host refused. */
  flush(): i32 {
    const refused = new StaticArray<bool>(this.series.length);
    for (let k = 0; k < this.n; k++) {
      const i = this.which[k];
      const s = this.series[i];
      const a = s.record(1, this.samples[k * 3]);
      const b = s.record(2, this.samples[k * 3 + 1]);
      const c = s.record(3, this.samples[k * 3 + 2]);
      if (!(a && b && c)) refused[i] = true;
    }
    let failed = 0;
    for (let i = 0; i < this.series.length; i++) {
      if (!this.series[i].add(0, this.counts[i])) refused[i] = true;
      if (refused[i]) failed += <i32>this.counts[i];
    }
    this.series.length = 0;
    this.counts.length = 0;
    this.slot.clear();
    this.n = 0;
    return failed;
  }
}
