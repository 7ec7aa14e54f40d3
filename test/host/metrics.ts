/**
 * Wasm custom metrics. Stats are process-wide in Envoy (one Stats::Scope), so every VM that
 * defines the same name gets the same stat; metric ids are per VM (proxy-wasm-cpp-host
 * include/proxy-wasm/wasm.h: kMetricTypeMask = 0x3, kMetricIdIncrement = 0x4, next id starts
 * at the type value and is pre-incremented, so the first counter is 4, gauge 5, histogram 6).
 * Envoy prefixes the name with the custom stat namespace "wasmcustom"
 * (source/extensions/common/wasm/context.cc defineMetric, wasm.h CustomStatNamespace); the
 * namespace is stripped again in Prometheus output.
 */
import { MetricType, WasmResult } from "./abi.js";

export const CUSTOM_STAT_NAMESPACE = "wasmcustom";

export class Stat {
  /**
   * The uint64 value as a Number while it stays exact (< 2^53, which is every realistic
   * counter: adding Numbers allocates nothing, adding BigInts allocates per call); `big` holds
   * it instead once it grows beyond (then `num` is unused).
   */
  private num = 0;
  private big: bigint | null = null;
  readonly samples: bigint[] = [];
  constructor(
    readonly name: string,
    readonly type: MetricType,
  ) {}

  get value(): bigint {
    return this.big === null ? BigInt(this.num) : this.big;
  }

  set value(v: bigint) {
    v = BigInt.asUintN(64, v);
    if (v <= MAX_SAFE_BIG) {
      this.num = Number(v);
      this.big = null;
    } else {
      this.big = v;
    }
  }

  /** value = (value + delta) mod 2^64, delta a signed int64. */
  add(delta: bigint): void {
    if (this.big === null && delta <= MAX_SAFE_BIG && delta >= -MAX_SAFE_BIG) {
      const r = this.num + Number(delta);
      if (r >= 0 && r <= Number.MAX_SAFE_INTEGER) {
        this.num = r;
        return;
      }
    }
    this.value = this.value + delta;
  }
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

export interface StatSnapshot {
  /** Envoy's full name, `wasmcustom.<name>`. */
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** Counter / gauge value; histograms: number of samples. */
  readonly value: bigint;
}

/** The process-wide store (one per Host). */
export class StatsStore {
  private readonly byName = new Map<string, Stat>();

  getOrCreate(name: string, type: MetricType): Stat {
    const full = `${CUSTOM_STAT_NAMESPACE}.${name}`;
    const key = `${type}:${full}`;
    let s = this.byName.get(key);
    if (!s) {
      s = new Stat(full, type);
      this.byName.set(key, s);
    }
    return s;
  }

  find(name: string, type: MetricType): Stat | undefined {
    return this.byName.get(`${type}:${CUSTOM_STAT_NAMESPACE}.${name}`);
  }

  snapshot(): StatSnapshot[] {
    const out: StatSnapshot[] = [];
    for (const s of this.byName.values()) {
      out.push({
        name: s.name,
        type: s.type === MetricType.Counter ? "counter" : s.type === MetricType.Gauge ? "gauge" : "histogram",
        value: s.type === MetricType.Histogram ? BigInt(s.samples.length) : s.value,
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

const MASK = 0x3;
const INCREMENT = 0x4;

/** Per-VM id table (WasmBase counters_/gauges_/histograms_ maps). */
export class VmMetrics {
  /** Stats by id >>> 2, one table per type (id & 3): an array index instead of a hashed key. */
  private readonly ids: Array<Array<Stat | undefined>> = [[], [], [], []];
  private nextCounter: number = MetricType.Counter;
  private nextGauge: number = MetricType.Gauge;
  private nextHistogram: number = MetricType.Histogram;

  constructor(private readonly store: StatsStore) {}

  /** Context::defineMetric: every call allocates a new id, even for a name already defined. */
  define(type: number, name: string): { result: WasmResult; id: number } {
    if (type > MetricType.Max) return { result: WasmResult.BadArgument, id: 0 };
    let id: number;
    if (type === MetricType.Counter) id = this.nextCounter = (this.nextCounter + INCREMENT) >>> 0;
    else if (type === MetricType.Gauge) id = this.nextGauge = (this.nextGauge + INCREMENT) >>> 0;
    else id = this.nextHistogram = (this.nextHistogram + INCREMENT) >>> 0;
    this.ids[id & MASK]![id >>> 2] = this.store.getOrCreate(name, type);
    return { result: WasmResult.Ok, id };
  }

  /** Context::incrementMetric: counters need offset > 0; gauges add/sub; histograms BadArgument. */
  private stat(id: number): Stat | undefined {
    return this.ids[id & MASK]![id >>> 2];
  }

  increment(id: number, offset: bigint): WasmResult {
    const type = id & MASK;
    if (type === MetricType.Counter) {
      const s = this.stat(id);
      if (!s) return WasmResult.NotFound;
      if (offset > 0n) {
        s.add(offset);
        return WasmResult.Ok;
      }
      return WasmResult.BadArgument;
    }
    if (type === MetricType.Gauge) {
      const s = this.stat(id);
      if (!s) return WasmResult.NotFound;
      // Envoy: offset > 0 → add(offset) else sub(-offset); a gauge is a uint64.
      s.add(offset);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  /** Context::recordMetric: counter add, gauge set, histogram recordValue. */
  record(id: number, value: bigint): WasmResult {
    const s = this.stat(id);
    if (!s) return WasmResult.NotFound;
    const type = id & MASK;
    if (type === MetricType.Counter) s.add(value);
    else if (type === MetricType.Gauge) s.value = value;
    else if (type === MetricType.Histogram) s.samples.push(value);
    else return WasmResult.NotFound;
    return WasmResult.Ok;
  }

  /** Context::getMetric: histograms (and unknown types) answer BadArgument. */
  get(id: number): { result: WasmResult; value: bigint } {
    const type = id & MASK;
    if (type === MetricType.Counter || type === MetricType.Gauge) {
      const s = this.stat(id);
      if (!s) return { result: WasmResult.NotFound, value: 0n };
      return { result: WasmResult.Ok, value: s.value };
    }
    return { result: WasmResult.BadArgument, value: 0n };
  }
}
