/**
 * http-telemetry's otlp handler end to end: real node HTTP clients → the emulated HTTP listener
 * (the filter's wasm, then the router) → a real node HTTP server; the filter exports over
 * proxy_grpc_call (emulated with @grpc/grpc-js) to a collector built from opentelemetry-proto's
 * own .proto files (./otlp-collector.ts), which decodes every ExportLogsServiceRequest and
 * ExportMetricsServiceRequest. The tests compare what arrives with the traffic sent.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Host } from "../host/index.js";
import { FilterState, type HttpFilterCallbacks } from "../host/types.js";
import { pluginPages } from "../../tools/harness/drive.js";
import { withTimeout } from "../host/fakes.js";
import { renderedClusters } from "../host/rendered.js";
import { ISTIO_HTTP_LABELS } from "../../controller/telemetry/stats-tags.js";
import { bootstrap, HTTP_PROTOCOL_OPTIONS_KEY } from "../../controller/envoy/bootstrap.js";
import { wasmPluginConfigs } from "../../controller/envoy/wasm-configs.js";
import { httpTelemetryBootstrapProps, httpTelemetryIstioNotes } from "../../controller/telemetry/http-telemetry.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { ENVOY_DEFAULT_BUCKETS, attrs, eventually, otlpCollector, type LogRecord, type Metric, type Mode } from "./otlp-collector.js";

const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;
const debugWasm = new URL("../../build/http-telemetry.debug.wasm", import.meta.url).pathname;
/** Delay of the upstream's `/slow` answer: response.duration must cover it. */
const SLOW_MS = 40;
const SERVICE = "ratings.bookinfo.svc.cluster.local";
const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAME: "ratings-v1-7d9f8",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: { app: "ratings", version: "v1", "service.istio.io/canonical-name": "ratings", "service.istio.io/canonical-revision": "v1" },
};

/** Istio's labels of an inbound request to ratings-v1 from a peer without metadata (istio_stats.cc). */
function inbound(code: string): Record<string, string> {
  return {
    reporter: "destination",
    source_workload: "unknown",
    source_canonical_service: "unknown",
    source_canonical_revision: "latest",
    source_workload_namespace: "unknown",
    source_principal: "unknown",
    source_app: "unknown",
    source_version: "unknown",
    source_cluster: "unknown",
    destination_workload: "ratings-v1",
    destination_workload_namespace: "bookinfo",
    destination_principal: "unknown",
    destination_app: "ratings",
    destination_version: "v1",
    destination_service: SERVICE,
    destination_canonical_service: "ratings",
    destination_canonical_revision: "v1",
    destination_service_name: SERVICE,
    destination_service_namespace: "bookinfo",
    destination_cluster: "Kubernetes",
    request_protocol: "http",
    response_code: code,
    grpc_response_status: "",
    response_flags: "-",
    connection_security_policy: "none",
  };
}

async function upstream(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => {
      if (req.url === "/slow") {
        setTimeout(() => res.end("slow\n"), SLOW_MS);
        return;
      }
      res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "text/plain" });
      res.end(`hello ${n}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function request(port: number, path: string, opts: { method?: string; body?: string; id?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: SERVICE };
    if (opts.id !== undefined) headers["x-request-id"] = opts.id;
    if (opts.body !== undefined) headers["content-length"] = String(Buffer.byteLength(opts.body));
    const req = http.request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const LOG_ATTRIBUTES = [
  "request.id", "request.method", "request.path", "response.code", "request.total_size", "response.total_size",
  "response.duration", "connection.mtls", "source.workload", "destination.workload",
];

describe("http-telemetry otlp handler", () => {
  let up: Awaited<ReturnType<typeof upstream>>;
  let collector: Awaited<ReturnType<typeof otlpCollector>>;

  before(async () => {
    up = await upstream();
    collector = await otlpCollector();
  });
  after(async () => {
    await collector.close();
    await up.close();
  });

  function reset(mode: Mode = "ok"): void {
    collector.logs.length = 0;
    collector.metrics.length = 0;
    collector.state.mode = mode;
  }

  async function start(handler: Record<string, unknown>, opts: { node?: Record<string, unknown>; debug?: boolean; top?: Record<string, unknown> } = {}) {
    const host = new Host({
      clusters: {
        backend: { endpoints: [{ host: "127.0.0.1", port: up.port }] },
        otel: { endpoints: [{ host: "127.0.0.1", port: collector.port }] },
      },
      nodeMetadata: (opts.node ?? NODE) as never,
    });
    const configuration = JSON.stringify({ ...opts.top, handlers: [{ name: "otel", kind: "otlp", cluster: "otel", ...handler }] });
    const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: opts.debug ? debugWasm : wasm, rootId: "http-telemetry", vmCount: 1, configuration });
    const l = await host.httpListener({ direction: "INBOUND", cluster: "backend", filters: [plugin] });
    const stat = (name: string) => host.counter(`http_telemetry.handler.otel.${name}`) ?? 0n;
    return { host, plugin, l, stat, queued: () => host.gauge("http_telemetry.handler.otel.log_queue_records") ?? 0n };
  }

  /** The metrics of the newest export (each carries every series: one VM, fewer than 64 label sets). */
  const latest = (): Metric[] => collector.metrics.at(-1)?.resource_metrics[0]!.scope_metrics[0]!.metrics ?? [];
  const requestsIn = (ms: Metric[]) => ms.find((m) => m.name.endsWith("requests_total"))?.sum!.data_points.reduce((s, p) => s + Number(p.as_int), 0) ?? 0;

  it("sends one LogRecord per request and Istio's request metrics equal to the traffic", async () => {
    reset();
    const { host, l, stat } = await start({ flush_interval_ms: 100, attributes: LOG_ATTRIBUTES }, { debug: true });
    try {
      assert.equal((await request(l.port, "/ok", { id: "r1" })).status, 200);
      assert.equal((await request(l.port, "/ok", { id: "r2", method: "POST", body: "x".repeat(100) })).body, "hello 100\n");
      assert.equal((await request(l.port, "/missing", { id: "r3" })).status, 404);
      assert.equal((await request(l.port, "/slow", { id: "r4" })).status, 200);
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      await collector.until(() => collector.records().length === 4 && requestsIn(latest()) === 4, "4 log records and metrics of 4 requests");

      const byId = new Map<string, { r: LogRecord; a: ReturnType<typeof attrs> }>();
      for (const r of collector.records()) byId.set(String(attrs(r.attributes)["request.id"]), { r, a: attrs(r.attributes) });
      assert.deepEqual([...byId.keys()].sort(), ["r1", "r2", "r3", "r4"]);
      const want: [string, string, string, number][] = [["r1", "GET", "/ok", 200], ["r2", "POST", "/ok", 200], ["r3", "GET", "/missing", 404], ["r4", "GET", "/slow", 200]];
      for (const [id, method, path, code] of want) {
        const { r, a } = byId.get(id)!;
        assert.deepEqual(r.attributes.map((kv) => kv.key), LOG_ATTRIBUTES, "the configured attributes, in order");
        assert.equal(a["request.method"], method);
        assert.equal(a["request.path"], path);
        assert.equal(a["response.code"], code);
        assert.equal(a["connection.mtls"], false);
        assert.equal(a["source.workload"], "", "no peer metadata");
        assert.equal(a["destination.workload"], "ratings-v1");
        // Typed as the access log's JSON: numbers are int_value, connection.mtls bool_value.
        const kinds = Object.fromEntries(r.attributes.map((kv) => [kv.key, kv.value.value]));
        assert.deepEqual(
          [kinds["response.code"], kinds["request.total_size"], kinds["response.duration"], kinds["connection.mtls"], kinds["request.path"]],
          ["int_value", "int_value", "int_value", "bool_value", "string_value"],
        );
        assert.equal(r.body.string_value, "http request");
        assert.equal(r.severity_number, "SEVERITY_NUMBER_INFO");
        // time = the request's start (end less response.duration), observed = its end.
        const took = BigInt(r.observed_time_unix_nano) - BigInt(r.time_unix_nano);
        assert.equal(took, BigInt(a["response.duration"] as number) * 1_000_000n);
        assert.ok(BigInt(r.time_unix_nano) > 1_600_000_000_000_000_000n);
      }
      assert.ok((byId.get("r2")!.a["request.total_size"] as number) > 100, "headers and the 100-byte body");
      assert.ok((byId.get("r4")!.a["response.duration"] as number) >= SLOW_MS);

      const rl = collector.logs[0]!.resource_logs[0]!;
      const ra = attrs(rl.resource.attributes);
      assert.equal(ra["service.name"], "ratings");
      assert.equal(ra["service.version"], "v1");
      assert.equal(ra["k8s.namespace.name"], "bookinfo");
      assert.match(String(ra["service.instance.id"]), /^ratings-v1-7d9f8\/[0-9a-f]+$/);
      assert.equal(rl.scope_logs[0]!.scope.name, "protomesh.http-telemetry");

      // No istio.stats on this node (no ISTIO_VERSION): Istio's names, as the prometheus handler's auto.
      const metrics = latest();
      assert.deepEqual(metrics.map((m) => [m.name, m.unit]), [
        ["istio_requests_total", "{request}"], ["istio_request_duration_milliseconds", "ms"], ["istio_request_bytes", "By"], ["istio_response_bytes", "By"],
      ]);
      const total = metrics[0]!.sum!;
      assert.equal(total.is_monotonic, true);
      assert.equal(total.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
      const counts = total.data_points.map((p) => [attrs(p.attributes).response_code, Number(p.as_int)]).sort();
      assert.deepEqual(counts, [["200", 3], ["404", 1]]);
      for (const p of total.data_points) {
        const code = String(attrs(p.attributes).response_code);
        assert.deepEqual(p.attributes.map((kv) => kv.key), [...ISTIO_HTTP_LABELS], "Istio's label set, in Istio's order");
        assert.deepEqual(attrs(p.attributes), inbound(code));
      }
      // Each histogram counts every request of its series; its sum is what the log records say.
      const records = [...byId.values()].map((x) => x.a);
      const sumOf = (code: number, key: string) => records.filter((a) => a["response.code"] === code).reduce((s, a) => s + (a[key] as number), 0);
      const histograms: [string, string][] = [["istio_request_duration_milliseconds", "response.duration"], ["istio_request_bytes", "request.total_size"], ["istio_response_bytes", "response.total_size"]];
      for (const [name, key] of histograms) {
        const h = metrics.find((m) => m.name === name)!.histogram!;
        assert.equal(h.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
        for (const p of h.data_points) {
          const code = Number(attrs(p.attributes).response_code);
          assert.equal(Number(p.count), code === 200 ? 3 : 1, `${name} count`);
          assert.equal(p.sum, sumOf(code, key), `${name} sum`);
          assert.deepEqual(p.explicit_bounds, ENVOY_DEFAULT_BUCKETS);
          assert.equal(p.bucket_counts.reduce((s, c) => s + Number(c), 0), Number(p.count));
          assert.ok(p.min !== undefined && p.max !== undefined && p.min <= p.max);
        }
      }
      // The collector has answered; the filter counts when the answers reach it.
      await eventually(() => stat("reports") === 4n && stat("log_records_exported") === 4n && stat("exports_ok") >= 2n, "the reports and exports counted");
      assert.equal(stat("log_records_dropped"), 0n);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("sends a full batch at once and nothing else before the flush interval", async () => {
    reset();
    const { host, l, queued } = await start({ batch_size: 2, flush_interval_ms: 3600000, metrics: false });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(l.port, `/ok?n=${i}`)).status, 200);
      await collector.until(() => collector.logs.length === 2, "two full batches");
      assert.deepEqual(collector.logs.map((r) => r.resource_logs[0]!.scope_logs[0]!.log_records.length), [2, 2]);
      assert.deepEqual(collector.records().map((r) => attrs(r.attributes)["request.path"]), ["/ok?n=0", "/ok?n=1", "/ok?n=2", "/ok?n=3"]);
      await eventually(() => queued() === 1n, "the fifth record queued");
      assert.equal(collector.metrics.length, 0, "metrics: false");
    } finally {
      await host.close();
    }
  });

  it("names the metrics protomesh_* beside istio.stats (ISTIO_VERSION set), as the prometheus handler does; logs: false", async () => {
    reset();
    const { host, l } = await start({ flush_interval_ms: 100, logs: false }, { node: { ...NODE, ISTIO_VERSION: "1.29.0" } });
    try {
      await request(l.port, "/ok");
      await collector.until(() => requestsIn(latest()) === 1, "the request's metrics");
      assert.deepEqual(latest().map((m) => m.name), ["protomesh_requests_total", "protomesh_request_duration_milliseconds", "protomesh_request_bytes", "protomesh_response_bytes"]);
      assert.equal(collector.logs.length, 0);
    } finally {
      await host.close();
    }
  });

  it("bounds the label sets: beyond max_series one overflow series, counted", async () => {
    reset();
    const { host, l, stat } = await start({ flush_interval_ms: 100, logs: false, max_series: 1 });
    try {
      await request(l.port, "/ok");
      await request(l.port, "/missing");
      await request(l.port, "/missing");
      await collector.until(() => requestsIn(latest()) === 3, "3 requests' metrics");
      const points = latest()[0]!.sum!.data_points.map((p) => [attrs(p.attributes).response_code, attrs(p.attributes).reporter, Number(p.as_int)]);
      assert.deepEqual(points, [["200", "destination", 1], ["overflow", "overflow", 2]]);
      assert.equal(stat("metric_series_overflow"), 2n);
    } finally {
      await host.close();
    }
  });

  it("collector down, fail open: every request passes, the queue stays bounded and drops and failures are counted", async () => {
    reset("fail");
    const { host, plugin, l, stat, queued } = await start({ batch_size: 2, max_queue_size: 4, flush_interval_ms: 3600000, metrics: false });
    try {
      assert.equal((await request(l.port, "/ok")).status, 200);
      assert.equal((await request(l.port, "/ok")).status, 200);
      await eventually(() => stat("exports_failed") === 1n, "the failed export of the full batch");
      assert.equal(stat("log_records_dropped"), 2n, "the failed batch");
      // Nothing more is sent before the next flush: 4 records fill the queue, the other 4 are dropped.
      for (let i = 0; i < 8; i++) assert.equal((await request(l.port, "/ok")).status, 200);
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      assert.equal(queued(), 4n);
      assert.equal(stat("log_records_dropped"), 6n);
      assert.equal(stat("exports_failed"), 1n, "one call while failing");
      plugin.tick(); // writes the batched handler counters (the flush interval is an hour away)
      await eventually(() => stat("failures") === 8n, "failures counted");
      assert.equal(stat("reports"), 2n, "the reports before the export failed");
      const warns = host.logs.filter((e) => e.level === "warn").map((e) => e.message);
      assert.deepEqual(warns, ["otlp: export to cluster otel failed while exporting logs, grpc status 14; retrying at the next flush"]);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical"), []);
    } finally {
      await host.close();
    }
  });

  it("collector down, fail closed: requests are refused once an export failed, and pass again once one succeeds", async () => {
    reset("fail");
    // Metrics on: each flush exports them, so an export can succeed once the collector is back.
    const { host, l, stat } = await start({ fail_open: false, batch_size: 1, flush_interval_ms: 100 });
    try {
      assert.equal((await request(l.port, "/ok")).status, 200);
      await eventually(() => stat("exports_failed") >= 1n, "a failed export");
      const refused = await request(l.port, "/ok");
      assert.deepEqual(refused, { status: 503, body: "telemetry handler unavailable\n" });
      collector.state.mode = "ok";
      await eventually(() => stat("exports_ok") >= 1n, "an export after recovery");
      assert.equal((await request(l.port, "/ok")).status, 200);
    } finally {
      await host.close();
    }
  });

  it("slow collector: the export times out, requests are not held, the queue stays bounded", async () => {
    reset("slow");
    const { host, l, stat, queued } = await start({ timeout_ms: 100, batch_size: 1, max_queue_size: 2, flush_interval_ms: 3600000, metrics: false });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(l.port, "/ok")).status, 200);
      await eventually(() => stat("exports_timed_out") === 1n, "the timed-out export");
      // The first record was in the call; two waited; two found the queue full.
      assert.equal(stat("log_records_dropped"), 3n);
      assert.equal(queued(), 2n);
      assert.equal(stat("exports_failed"), 0n);
    } finally {
      await host.close();
    }
  });

  it("keeps memory flat over 4,000 exported requests (queue and encoders reused, series bounded)", async () => {
    reset();
    // 400 connections through a cache of 64: the connections' attributes are bounded too.
    const { host, plugin, stat, queued } = await start({ batch_size: 64, flush_interval_ms: 3600000, max_series: 20 }, { top: { max_connections: 64 } });
    try {
      const factory = plugin.httpFilterFactory();
      const one = (i: number): void => {
        const cb: HttpFilterCallbacks = {
          streamInfo: {
            connection: {
              id: BigInt(1 + Math.floor(i / 10)), source: { host: "10.0.0.1", port: 1000 }, destination: { host: "10.0.0.2", port: 80 },
              requestedServerName: "", listenerDirection: "INBOUND", filterState: new FilterState(), filterChainName: "",
            },
            filterState: new FilterState(),
          },
          continueDecoding: () => {},
          continueEncoding: () => {},
          sendLocalReply: () => {},
          decodingBuffer: () => undefined,
          encodingBuffer: () => undefined,
        };
        const f = factory.create(cb)!;
        f.decodeHeaders([[":method", "GET"], [":path", `/item/${i}`], [":authority", `svc-${i % 40}`], ["x-request-id", `id-${i}`]], true);
        f.encodeHeaders([[":status", "200"], ["content-length", "0"]], true);
        f.onStreamComplete();
        f.onDestroy();
      };
      let warm = 0;
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 200; i++) one(round * 200 + i);
        const sent = 200 * (round + 1);
        // Full batches go at once; the rest (200 is not a multiple of 64) waits for the next round.
        const want = BigInt(sent - (sent % 64));
        await eventually(() => stat("log_records_exported") === want, `${want} records exported`);
        assert.equal(queued(), BigInt(sent % 64));
        if (round === 4) warm = pluginPages(plugin);
      }
      const end = pluginPages(plugin);
      assert.ok(end <= warm + 2, `${warm} → ${end} pages`);
      assert.equal(stat("log_records_dropped"), 0n);
      assert.equal(stat("metric_series_overflow") > 0n, true, "40 hosts, 20 series: the rest overflowed");
    } finally {
      await host.close();
    }
  });

  it("fails the plugin start naming a bad otlp field, in the controller's words too", async () => {
    const host = new Host();
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{}, '"handlers[0].cluster" is required'],
        [{ cluster: "otel", batch_size: 0 }, '"handlers[0].batch_size" must be a number of log records, an integer 1..1000, found 0'],
        [{ cluster: "otel", logs: false, metrics: false }, '"handlers[0]" exports nothing: logs and metrics are both false'],
        [{ cluster: "otel", metric_names: "both" }, '"handlers[0].metric_names" must be one of auto, prefixed, istio, found "both"'],
        [{ cluster: "otel", max_batch: 10 }, 'unknown field "handlers[0].max_batch" (known: name, kind, fail_open, sampling, cluster, authority, timeout_ms, batch_size, max_queue_size, flush_interval_ms, logs, metrics, attributes, metric_names, max_series)'],
      ];
      for (const [fields, want] of cases) {
        const configuration = JSON.stringify({ handlers: [{ name: "o", kind: "otlp", ...fields }] });
        await assert.rejects(host.loadPlugin({ name: "c", wasm, rootId: "http-telemetry", vmCount: 1, configuration }));
        const line = `http-telemetry: invalid configuration: ${want}`;
        assert.equal(host.logs.filter((e) => e.level === "error").at(-1)?.message, line);
        assert.deepEqual(checkConfiguration("http-telemetry", configuration), [want]);
      }
    } finally {
      await host.close();
    }
  });

  it("runs the controller's standalone bootstrap: an HTTP/2 collector cluster per otlp handler, which receives the exports", async () => {
    reset();
    const configuration = { handlers: [{ name: "otel", kind: "otlp", cluster: "otel_collector", flush_interval_ms: 100 }] };
    const cfg = bootstrap(httpTelemetryBootstrapProps({
      configuration, upstream: { address: "127.0.0.1", port: up.port }, otlpCollector: { address: "127.0.0.1", port: collector.port },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    })) as any;
    const otel = (cfg.static_resources.clusters as Record<string, unknown>[]).find((c) => c.name === "otel_collector");
    assert.ok(otel, "the collector cluster is rendered");
    assert.deepEqual(otel.typed_extension_protocol_options, {
      [HTTP_PROTOCOL_OPTIONS_KEY]: { "@type": `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`, explicit_http_config: { http2_protocol_options: {} } },
    });
    assert.deepEqual(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      ((bootstrap(httpTelemetryBootstrapProps({})) as any).static_resources.clusters as { name: string }[]).map((c) => c.name),
      ["upstream"],
      "no collector cluster without otlp handlers",
    );
    const [p] = wasmPluginConfigs(cfg);
    const host = new Host({ clusters: Object.fromEntries(renderedClusters(cfg)), nodeMetadata: NODE as never });
    try {
      const plugin = await host.loadPlugin({ name: p!.name, wasm, rootId: p!.rootId, vmCount: 1, configuration: p!.configuration });
      const l = await host.httpListener({ cluster: "upstream", filters: [plugin], direction: "INBOUND" });
      await request(l.port, "/ok");
      await collector.until(() => collector.records().length === 1 && requestsIn(latest()) === 1, "the exports");
    } finally {
      await host.close();
    }
    const notes = httpTelemetryIstioNotes(configuration);
    assert.match(notes, /OTLP export goes to the cluster "otel_collector"/);
    assert.match(notes, /gRPC protocol/);
    assert.doesNotMatch(httpTelemetryIstioNotes({}), /OTLP/);
  });
});
