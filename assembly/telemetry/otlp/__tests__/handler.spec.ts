// The otlp handler's pure parts: its configuration in the engine's schema, the series key →
// Istio's labels, the bounded series table and the bytes of its metrics and log records.
import { PbWriter } from "../writer";
import { Fields } from "../../../runtime/fields";
import { parseJson } from "../../../runtime/json";
import { DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL_MS } from "../config";
import { ENVOY_DEFAULT_BOUNDS, OtlpHistogram } from "../metrics";
import { kvBool, kvInt, kvString } from "../messages";
import { DEFAULT_LOG_ATTRIBUTES, TelemetryConfig, parseTelemetry } from "../../config";
import { HTTP_LABELS } from "../../http-labels";
import { Attr, RequestAttributes } from "../../request";
import { ConnectionAttributes } from "../../handlers/handler";
import { MetricNames } from "../../handlers/prometheus";
import { OtlpHandler, OtlpHttpMetrics, encodeHttpLogRecord, labelsFromTags } from "../../handlers/otlp";

function parse(handlers: string): Fields {
  const f = new Fields();
  parseTelemetry(f, parseJson(handlers).value, null, new TelemetryConfig(), DEFAULT_LOG_ATTRIBUTES, "");
  return f;
}

function handler(fields: string): OtlpHandler {
  const c = new TelemetryConfig();
  const f = new Fields();
  parseTelemetry(f, parseJson("[{\"name\": \"o\", \"kind\": \"otlp\", " + fields + "}]").value, null, c, DEFAULT_LOG_ATTRIBUTES, "");
  expect(f.error).toBe("");
  return changetype<OtlpHandler>(c.handlers[0]);
}

function bytes(w: PbWriter): string {
  let s = "";
  for (let i = 0; i < w.len; i++) s += load<u8>(w.dataStart + <usize>i).toString() + ",";
  return s;
}

describe("otlp handler configuration", () => {
  it("takes tcp-stats' export fields with their defaults, and the access log's attributes by default", () => {
    const h = handler("\"cluster\": \"otel\"");
    expect(h.kind).toBe("otlp");
    expect(h.config.cluster).toBe("otel");
    expect(h.config.batchSize).toBe(DEFAULT_BATCH_SIZE);
    expect(h.config.flushIntervalMs).toBe(DEFAULT_FLUSH_INTERVAL_MS);
    expect(h.config.logs).toBe(true);
    expect(h.config.metrics).toBe(true);
    expect(h.attrs.length).toBe(DEFAULT_LOG_ATTRIBUTES.length);
    expect(h.names).toBe(MetricNames.Auto);
    expect(h.failOpen).toBe(true);
  });

  it("reads every field", () => {
    const h = handler("\"cluster\": \"c\", \"authority\": \"otel:4317\", \"timeout_ms\": 250, \"batch_size\": 10, " +
      "\"max_queue_size\": 20, \"flush_interval_ms\": 1000, \"logs\": false, \"attributes\": [\"response.code\"], " +
      "\"metric_names\": \"prefixed\", \"max_series\": 7, \"fail_open\": false, \"sampling\": 50");
    expect(h.config.authority).toBe("otel:4317");
    expect(h.config.timeoutMs).toBe(250);
    expect(h.config.maxQueueSize).toBe(20);
    expect(h.config.logs).toBe(false);
    expect(h.attrs.length).toBe(1);
    expect(h.attrs[0]).toBe(Attr.ResponseCode);
    expect(h.names).toBe(MetricNames.Prefixed);
    expect(h.maxSeries).toBe(7);
    expect(h.failOpen).toBe(false);
    expect(h.samplingMilli).toBe(50000);
    expect(h.tickPeriodMs()).toBe(1000);
  });

  it("names the bad field", () => {
    expect(parse("[{\"name\": \"o\", \"kind\": \"otlp\"}]").error).toBe("\"handlers[0].cluster\" is required");
    expect(parse("[{\"name\": \"o\", \"kind\": \"otlp\", \"cluster\": \"c\", \"logs\": false, \"metrics\": false}]").error)
      .toBe("\"handlers[0]\" exports nothing: logs and metrics are both false");
    expect(parse("[{\"name\": \"o\", \"kind\": \"otlp\", \"cluster\": \"c\", \"batch_size\": 8, \"max_queue_size\": 4}]").error)
      .toBe("\"handlers[0].max_queue_size\" must be at least batch_size (8), found 4");
    expect(parse("[{\"name\": \"o\", \"kind\": \"otlp\", \"cluster\": \"c\", \"attributes\": []}]").error)
      .toBe("\"handlers[0].attributes\" needs at least one attribute, found array");
    expect(parse("[{\"name\": \"o\", \"kind\": \"otlp\", \"cluster\": \"c\", \"dimensions\": {}}]").error)
      .toBe("unknown field \"handlers[0].dimensions\" (known: name, kind, fail_open, sampling, cluster, authority, timeout_ms, " +
        "batch_size, max_queue_size, flush_interval_ms, logs, metrics, attributes, metric_names, max_series)");
  });
});

describe("otlp handler metrics", () => {
  it("reads Istio's labels back from a series key, in HTTP_LABELS order", () => {
    const v = labelsFromTags("response_code=.=404;.;reporter=.=destination;.;destination_service=.=a=.=b;.;nope=.=x;.;");
    expect(v.length).toBe(HTTP_LABELS.length);
    expect(v[HTTP_LABELS.indexOf("reporter")]).toBe("destination");
    expect(v[HTTP_LABELS.indexOf("response_code")]).toBe("404");
    expect(v[HTTP_LABELS.indexOf("destination_service")]).toBe("a=.=b");
    expect(v[HTTP_LABELS.indexOf("source_workload")]).toBe("");
  });

  it("bounds the label sets and sends the rest to one overflow series", () => {
    const m = new OtlpHttpMetrics("istio_", 1);
    const a = m.get("reporter=.=destination;.;", 1);
    expect(m.get("reporter=.=destination;.;", 2) === a).toBe(true);
    const o = m.get("reporter=.=source;.;", 3);
    expect(o === a).toBe(false);
    expect(m.get("reporter=.=other;.;", 4) === o).toBe(true);
    expect(m.overflowed).toBe(2);
    expect(m.seriesCount()).toBe(2);
  });

  it("sums requests and records duration and sizes per series; writes one point per metric and series", () => {
    const m = new OtlpHttpMetrics("istio_", 10);
    const s = m.get("reporter=.=destination;.;", 1);
    const r = new RequestAttributes();
    r.durationMs = 7;
    r.requestBytes = 300;
    r.responseBytes = 2000;
    s.add(r);
    s.add(r);
    expect(s.requests).toBe(2);
    expect(s.duration.count).toBe(2);
    expect(s.duration.sum).toBe(14);
    expect(s.requestBytes.buckets[ENVOY_DEFAULT_BOUNDS.indexOf(500)]).toBe(2);
    expect(s.responseBytes.max).toBe(2000);
    const w = new PbWriter(64);
    expect(m.encode(w, 0, 64, 5)).toBe(4);
    expect(w.overflowed).toBe(false);
    expect(m.encode(w, 1, 64, 5)).toBe(0);
  });

  it("counts a value on a bound in that bound's bucket", () => {
    const h = new OtlpHistogram();
    h.record(0.5);
    h.record(0.6);
    h.record(1e9);
    expect(h.buckets[0]).toBe(1);
    expect(h.buckets[1]).toBe(1);
    expect(h.buckets[ENVOY_DEFAULT_BOUNDS.length]).toBe(1);
    expect(h.min).toBe(0.5);
  });
});

describe("otlp handler log records", () => {
  it("writes each attribute typed as the access log's JSON (int, bool, string)", () => {
    const conn = new ConnectionAttributes();
    const r = new RequestAttributes();
    r.method = "GET";
    r.responseCode = 404;
    r.durationMs = 2;
    const attrs: i32[] = [Attr.RequestMethod, Attr.ResponseCode, Attr.ConnectionMtls];
    const got = new PbWriter(64);
    encodeHttpLogRecord(got, attrs, conn, r, 5000000);
    // The same record written field by field: time = end less the duration, observed = end.
    const want = new PbWriter(64);
    want.begin(2);
    want.fixed64Field(1, 3000000);
    want.varintField(2, 9);
    want.stringField(3, "INFO");
    want.begin(5);
    want.stringField(1, "http request");
    want.end();
    kvString(want, 6, "request.method", "GET");
    kvInt(want, 6, "response.code", 404);
    kvBool(want, 6, "connection.mtls", false);
    want.fixed64Field(11, 5000000);
    want.end();
    expect(bytes(got)).toBe(bytes(want));
  });
});
