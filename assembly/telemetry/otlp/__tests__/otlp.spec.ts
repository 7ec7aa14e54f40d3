import { PbWriter, varintSize } from "../writer";
import { encodeAttributeSet, encodeGrpcService, kvBool, kvInt, kvString, writeAttributes } from "../messages";
import { Fields } from "../../../runtime/fields";
import { parseJson } from "../../../runtime/json";
import {
  DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_TIMEOUT_MS, OtlpConfig, parseOtlpConfig,
} from "../config";
import { DURATION_BOUNDS_MS, OtlpTcpMetrics, OtlpTcpSeries } from "../tcp";
import { TCP_LABELS } from "../../tcp-labels";

const DIGITS = "0123456789abcdef";

function hexOf(w: PbWriter): string {
  let s = "";
  for (let i = 0; i < w.len; i++) {
    const b = load<u8>(w.dataStart + <usize>i);
    s += DIGITS.charAt(b >> 4) + DIGITS.charAt(b & 0xf);
  }
  return s;
}

function repeat(c: string, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) s += c;
  return s;
}

describe("PbWriter", () => {
  it("writes varints, fixed64 and doubles as the protobuf encoding spec does", () => {
    const w = new PbWriter(16);
    w.varintField(1, 150);
    expect(hexOf(w)).toBe("089601");
    w.reset();
    w.varintField(3, <u64>(-1 as i64));
    expect(hexOf(w)).toBe("18ffffffffffffffffff01");
    w.reset();
    w.fixed64Field(1, 0x0102030405060708);
    expect(hexOf(w)).toBe("090807060504030201");
    w.reset();
    w.doubleField(5, 1.0);
    expect(hexOf(w)).toBe("29000000000000f03f");
    expect(varintSize(0)).toBe(1);
    expect(varintSize(127)).toBe(1);
    expect(varintSize(128)).toBe(2);
    expect(varintSize(u64.MAX_VALUE)).toBe(10);
  });

  it("writes strings as UTF-8 in place", () => {
    const w = new PbWriter(16);
    w.stringField(1, "é€");
    expect(hexOf(w)).toBe("0a05c3a9e282ac");
    w.reset();
    w.stringField(2, "");
    expect(hexOf(w)).toBe("1200");
  });

  it("back-patches nested lengths, moving the body when the length needs more bytes", () => {
    // Bodies of 127, 128 and 16384 bytes straddle the one- and two-byte varint lengths.
    const sizes: i32[] = [0, 125, 126, 16380, 16381];
    const lens: string[] = ["02", "7f", "8001", "ff7f", "808001"];
    for (let i = 0; i < sizes.length; i++) {
      const w = new PbWriter(16);
      w.begin(1);
      w.stringField(2, repeat("a", sizes[i]));
      w.end();
      const h = hexOf(w);
      expect(h.substring(0, 2 + lens[i].length)).toBe("0a" + lens[i]);
      expect(w.len).toBe(1 + lens[i].length / 2 + 1 + varintSize(<u64>sizes[i]) + sizes[i]);
      expect(w.overflowed).toBe(false);
    }
  });

  it("nests several levels and keeps sibling fields after a grown length", () => {
    const w = new PbWriter(16);
    w.begin(1);
    w.begin(2);
    w.stringField(1, repeat("b", 200));
    w.end();
    w.varintField(3, 1);
    w.end();
    w.varintField(4, 2);
    const h = hexOf(w);
    // inner: 1 + 2 + 200 = 203; outer: 1 (tag 2) + 2 (len 203) + 203 + 2 (field 3) = 208
    expect(h.substring(0, 6)).toBe("0ad001");
    expect(h.substring(6, 12)).toBe("12cb01");
    expect(h.substring(h.length - 8)).toBe("18012002");
  });

  it("reports unbalanced or too deep nesting instead of trapping", () => {
    const w = new PbWriter(16);
    w.end();
    expect(w.overflowed).toBe(true);
    w.reset();
    for (let i = 0; i < 20; i++) w.begin(1);
    expect(w.overflowed).toBe(true);
  });

  it("drops records from the front and truncates an unfinished one", () => {
    const w = new PbWriter(16);
    w.varintField(1, 1);
    w.varintField(2, 2);
    w.varintField(3, 3);
    w.dropFront(2);
    expect(hexOf(w)).toBe("10021803");
    w.truncate(2);
    expect(hexOf(w)).toBe("1002");
    w.dropFront(10);
    expect(w.len).toBe(0);
  });
});

describe("OTLP messages", () => {
  it("encodes KeyValue with each AnyValue member", () => {
    const w = new PbWriter(16);
    kvString(w, 7, "k", "v");
    expect(hexOf(w)).toBe("3a080a016b12030a0176");
    w.reset();
    kvInt(w, 6, "n", -1);
    expect(hexOf(w)).toBe("32100a016e120b18ffffffffffffffffff01");
    w.reset();
    kvBool(w, 6, "b", true);
    expect(hexOf(w)).toBe("32070a0162120210" + "01");
    w.reset();
    kvString(w, 6, "e", "");
    expect(hexOf(w)).toBe("32070a016512020a00");
  });

  it("writes a pre-encoded attribute set under any field number", () => {
    const keys: string[] = ["k", "key2"];
    const values: string[] = ["v", repeat("x", 130)];
    const set = encodeAttributeSet(keys, values);
    const a = new PbWriter(16);
    writeAttributes(a, 9, set);
    const b = new PbWriter(16);
    kvString(b, 9, "k", "v");
    kvString(b, 9, "key2", repeat("x", 130));
    expect(hexOf(a)).toBe(hexOf(b));
  });

  it("encodes the GrpcService of proxy_grpc_call (envoy_grpc cluster_name, authority)", () => {
    const w = new PbWriter(16);
    w.rawBytes(encodeGrpcService("otel", ""));
    expect(hexOf(w)).toBe("0a060a046f74656c");
    w.reset();
    w.rawBytes(encodeGrpcService("c", "a:1"));
    expect(hexOf(w)).toBe("0a080a0163120361" + "3a31");
  });
});

describe("OTLP TCP metrics", () => {
  it("buckets durations by Envoy's bounds (upper bound inclusive) and tracks min/max", () => {
    const s = new OtlpTcpSeries(new ArrayBuffer(0), 1);
    s.recordDuration(0);
    s.recordDuration(1);
    s.recordDuration(2);
    s.recordDuration(5000000);
    expect(s.duration.buckets[0]).toBe(1);
    expect(s.duration.buckets[1]).toBe(1);
    expect(s.duration.buckets[2]).toBe(1);
    expect(s.duration.buckets[DURATION_BOUNDS_MS.length]).toBe(1);
    expect(s.duration.count).toBe(4);
    expect(s.duration.min).toBe(0);
    expect(s.duration.max).toBe(5000000);
  });

  it("bounds the label sets and sends the rest to one overflow series", () => {
    const m = new OtlpTcpMetrics("protomesh_", 1);
    const a = labels("destination");
    const b = labels("source");
    const first = m.get(a, 1);
    expect(m.get(a, 2) === first).toBe(true);
    const o = m.get(b, 3);
    expect(o === first).toBe(false);
    expect(m.get(b, 4) === o).toBe(true);
    expect(m.overflowed).toBe(2);
    expect(m.series.length).toBe(2);
  });
});

function labels(first: string): string[] {
  const out = new Array<string>(TCP_LABELS.length);
  for (let i = 0; i < out.length; i++) out[i] = i == 0 ? first : "unknown";
  return out;
}

function parse(text: string): Fields {
  const f = new Fields();
  const p = parseJson(text);
  parseOtlpConfig(p.value!, f, "otlp");
  return f;
}

function config(text: string): OtlpConfig {
  return parseOtlpConfig(parseJson(text).value!, new Fields(), "otlp");
}

describe("otlp configuration", () => {
  it("has its defaults in one place", () => {
    const c = config('{"cluster": "otel"}');
    expect(c.cluster).toBe("otel");
    expect(c.authority).toBe("");
    expect(c.timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(c.batchSize).toBe(DEFAULT_BATCH_SIZE);
    expect(c.maxQueueSize).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(c.flushIntervalMs).toBe(DEFAULT_FLUSH_INTERVAL_MS);
    expect(c.logs).toBe(true);
    expect(c.metrics).toBe(true);
  });

  it("reads every field", () => {
    const c = config('{"cluster": "outbound|4317||otel.obs.svc.cluster.local", "authority": "otel.obs:4317", "timeout_ms": 250, ' +
      '"batch_size": 10, "max_queue_size": 20, "flush_interval_ms": 1000, "logs": false, "metrics": false}');
    expect(c.cluster).toBe("outbound|4317||otel.obs.svc.cluster.local");
    expect(c.authority).toBe("otel.obs:4317");
    expect(c.timeoutMs).toBe(250);
    expect(c.batchSize).toBe(10);
    expect(c.maxQueueSize).toBe(20);
    expect(c.flushIntervalMs).toBe(1000);
    expect(c.logs).toBe(false);
    expect(c.metrics).toBe(false);
  });

  it("names the bad field and the value found", () => {
    expect(parse("3").error).toBe("\"otlp\" must be an object with the collector's cluster and export settings, found 3");
    expect(parse("{}").error).toBe("\"otlp.cluster\" is required");
    expect(parse('{"cluster": ""}').error).toBe("\"otlp.cluster\" must be a cluster name: 1 to 512 bytes of letters, digits and _ . - | : *, found \"\"");
    expect(parse('{"cluster": "c", "authority": "a b"}').error)
      .toBe("\"otlp.authority\" must be an authority: 1 to 255 bytes of visible ASCII (host or host:port), found \"a b\"");
    expect(parse('{"cluster": "c", "timeout_ms": 0}').error)
      .toBe("\"otlp.timeout_ms\" must be a duration in milliseconds, an integer 1..60000, found 0");
    expect(parse('{"cluster": "c", "batch_size": 1001}').error)
      .toBe("\"otlp.batch_size\" must be a number of log records, an integer 1..1000, found 1001");
    expect(parse('{"cluster": "c", "flush_interval_ms": 99}').error)
      .toBe("\"otlp.flush_interval_ms\" must be a duration in milliseconds, an integer 100..3600000, found 99");
    expect(parse('{"cluster": "c", "metrics": 1}').error).toBe("\"otlp.metrics\" must be true or false, found 1");
    expect(parse('{"cluster": "c", "batch": 1}').error)
      .toBe("unknown field \"otlp.batch\" (known: cluster, authority, timeout_ms, batch_size, max_queue_size, flush_interval_ms, logs, metrics)");
    expect(parse('{"cluster": "c", "max_queue_size": 100}').error)
      .toBe("\"otlp.max_queue_size\" must be at least batch_size (256), found 100");
  });
});
