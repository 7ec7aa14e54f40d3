/**
 * Every backend adapter of the telemetry engine fed by the SAME traffic (issue 9: "a test shows
 * each adapter's output for the same traffic").
 *
 * One rule set, rendered by the controller exactly as an operator would
 * (`render http-telemetry envoy --configuration …`), loaded into the emulator as rendered: the
 * plugin's configuration and wasm file from the bootstrap's wasm filter, the upstream cluster and
 * route from its listener, the stats_tags from its stats_config. One sequence of real HTTP requests
 * then goes through it, and each handler's output is asserted:
 *
 * - prometheus: the emulated Envoy's `/stats/prometheus` text, parsed strictly;
 * - accesslog: the JSON lines in Envoy's log;
 * - denier and list: what the client received (status, body, headers) and what the upstream never did;
 * - memquota: the 429 refusals with local_ratelimit's headers;
 * - otlp: the ExportLogsServiceRequest and ExportMetricsServiceRequest an @grpc/grpc-js collector
 *   (built from opentelemetry-proto's own .proto files) decoded, sent through the collector cluster
 *   the controller rendered (`--otlp-collector`);
 * - every handler: its counters (written on tick, none before).
 *
 * A new adapter adds one entry to ADAPTERS: its handler, its rules, and the assertion of its
 * output for this traffic.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { wasmPluginConfigs } from "../../controller/envoy/wasm-configs.js";
import { ISTIO_HTTP_LABELS } from "../../controller/telemetry/stats-tags.js";
import { Host } from "../host/index.js";
import { withTimeout } from "../host/fakes.js";
import { prometheusText } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { HTTP_PROTOCOL_OPTIONS_KEY } from "../../controller/envoy/bootstrap.js";
import { ENVOY_DEFAULT_BUCKETS, attrs, eventually, otlpCollector, type LogRecord, type Metric } from "../filters/otlp-collector.js";

const BUILD = new URL("../../build", import.meta.url).pathname;
const SERVICE = "ratings.bookinfo.svc.cluster.local";
/** The otlp handler's cluster: the controller renders it, pointing at --otlp-collector. */
const OTLP_CLUSTER = "otel_collector";
/**
 * The otlp handler's flush interval: equal to the engine's own tick (FLUSH_PERIOD_MS,
 * assembly/telemetry/handlers/prometheus.ts), so the filter's timer is what it is without otlp; the
 * test ticks by hand once that much time has passed.
 */
const OTLP_FLUSH_MS = 1000;

/** What one request of the traffic got back. */
interface Reply {
  readonly path: string;
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** Everything the handlers produced for the traffic. */
interface Outputs {
  readonly replies: readonly Reply[];
  /** Paths the upstream received, in order. */
  readonly upstreamSaw: readonly string[];
  /** `/stats/prometheus`, strictly parsed. */
  readonly scrape: readonly Family[];
  /** The plugin's log lines by level, as Envoy would print them after the prefix. */
  readonly logs: (level: string) => string[];
  /** A counter of the plugin (`http_telemetry.handler.<name>.<what>`), 0 when never written. */
  readonly counter: (name: string) => bigint;
  /** What the OTLP collector decoded: every LogRecord, and the newest metrics export (cumulative). */
  readonly otlp: { readonly records: readonly LogRecord[]; readonly metrics: readonly Metric[] };
}

interface Adapter {
  readonly handler: Record<string, unknown>;
  readonly rules: ReadonlyArray<Record<string, unknown>>;
  readonly check: (o: Outputs) => void;
}

/** The traffic, one request at a time: path, user agent, method. */
const TRAFFIC: ReadonlyArray<{ path: string; ua: string; method?: string; body?: string }> = [
  { path: "/api/items", ua: "shop-web/2.1" },
  { path: "/api/items", ua: "shop-web/2.1", method: "POST", body: '{"sku":"b-17"}' },
  { path: "/missing", ua: "shop-web/2.1" },
  { path: "/admin/users", ua: "shop-web/2.1" },
  { path: "/api/items", ua: "badbot/0.3" },
  { path: "/api/items", ua: "batch-job/1.0" },
  { path: "/api/items", ua: "batch-job/1.0" },
  { path: "/api/items", ua: "batch-job/1.0" },
  { path: "/api/items", ua: "batch-job/1.0" },
];
/** After TRAFFIC the upstream goes away and one more request is sent (the router's UF). */
const AFTER_UPSTREAM_GONE = { path: "/api/items", ua: "shop-web/2.1" };

/** The labels every series shares here: a standalone Envoy (no node metadata), no peer. */
const BASE_LABELS: Readonly<Record<string, string>> = {
  reporter: "destination",
  source_workload: "unknown",
  source_canonical_service: "unknown",
  source_canonical_revision: "latest",
  source_workload_namespace: "unknown",
  source_principal: "unknown",
  source_app: "unknown",
  source_version: "unknown",
  source_cluster: "unknown",
  destination_workload: "",
  destination_workload_namespace: "",
  destination_principal: "unknown",
  destination_app: "",
  destination_version: "",
  destination_service: SERVICE,
  destination_canonical_service: "",
  destination_canonical_revision: "",
  destination_service_name: SERVICE,
  destination_service_namespace: "",
  destination_cluster: "",
  request_protocol: "http",
  grpc_response_status: "",
  connection_security_policy: "none",
};

const ADAPTERS: readonly Adapter[] = [
  {
    handler: { name: "closed", kind: "denier", status_code: 403, message: "admin is closed" },
    rules: [{ name: "admin", match: { "request.path": { prefix: "/admin/" } }, handlers: ["closed"] }],
    check: (o) => {
      const r = o.replies[3]!;
      assert.deepEqual([r.status, r.body, r.headers["x-protomesh-rule"]], [403, "admin is closed\n", "admin"]);
      assert.ok(!o.upstreamSaw.includes("/admin/users"), "the upstream never sees a denied request");
      assert.deepEqual([o.counter("closed.reports"), o.counter("closed.allowed"), o.counter("closed.denied")], [1n, 0n, 1n]);
    },
  },
  {
    handler: { name: "bots", kind: "list", attribute: "request.useragent", blacklist: true, entries: [{ prefix: "badbot/" }] },
    rules: [{ name: "api", match: { "request.path": { prefix: "/api/" } }, handlers: ["bots"] }],
    check: (o) => {
      const r = o.replies[4]!;
      assert.deepEqual([r.status, r.body, r.headers["x-protomesh-rule"]], [403, 'request.useragent "badbot/0.3" is blacklisted\n', "api"]);
      // Checked: the seven /api/ requests before the upstream went away, plus the one after.
      assert.deepEqual([o.counter("bots.reports"), o.counter("bots.allowed"), o.counter("bots.denied")], [8n, 7n, 1n]);
    },
  },
  {
    handler: { name: "per_agent", kind: "memquota", max_amount: 3, valid_duration_ms: 3_600_000, key: ["request.useragent"] },
    rules: [{ name: "api", match: { "request.path": { prefix: "/api/" } }, handlers: ["per_agent"] }],
    check: (o) => {
      // batch-job's fourth request finds its bucket empty; shop-web used 2 of its 3 tokens, then a
      // third on the request the dead upstream answers. badbot was refused by `bots` first.
      assert.deepEqual(o.replies.slice(5, 9).map((r) => r.status), [200, 200, 200, 429]);
      const r = o.replies[8]!;
      assert.equal(r.body, "local_rate_limited");
      assert.deepEqual([r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"], r.headers["x-ratelimit-reset"]], ["3", "0", "1200"]);
      assert.equal(r.headers["x-protomesh-rule"], "api");
      assert.deepEqual([o.counter("per_agent.reports"), o.counter("per_agent.allowed"), o.counter("per_agent.limited")], [7n, 6n, 1n]);
    },
  },
  {
    handler: { name: "prom", kind: "prometheus", dimensions: { request_method: "request.method" } },
    rules: [{ name: "all", handlers: ["prom", "audit"] }],
    check: (o) => {
      const total = o.scrape.find((f) => f.name === "istio_requests_total");
      assert.ok(total, "istio_requests_total (standalone Envoy: Istio's names)");
      assert.equal(total.type, "counter");
      assert.deepEqual(Object.keys(total.samples[0]!.labels), [...ISTIO_HTTP_LABELS, "request_method"], "label order");
      // Refused requests are reported too, with their local reply's code.
      const want = (code: string, flags: string, method: string, n: number): [Record<string, string>, number] => [{ ...BASE_LABELS, response_code: code, response_flags: flags, request_method: method }, n];
      const order = (x: [Record<string, string>, number]) => `${x[0].response_code} ${x[0].response_flags} ${x[0].request_method}`;
      const sorted = (xs: Array<[Record<string, string>, number]>) => xs.sort((a, b) => order(a).localeCompare(order(b)));
      assert.deepEqual(sorted(total.samples.map((s) => [{ ...s.labels }, s.value])), sorted([
        want("200", "-", "GET", 4),
        want("200", "-", "POST", 1),
        want("403", "-", "GET", 2),
        want("404", "-", "GET", 1),
        want("429", "-", "GET", 1),
        want("503", "UF", "GET", 1),
      ]));
      for (const name of ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"]) {
        const f = o.scrape.find((x) => x.name === name);
        assert.equal(f?.type, "histogram", name);
        const count = f!.samples.filter((s) => s.name === `${name}_count`).reduce((a, s) => a + s.value, 0);
        assert.equal(count, 10, `${name}: one sample per request`);
      }
      assert.deepEqual([o.counter("prom.reports"), o.counter("prom.failures"), o.counter("prom.series_overflow")], [10n, 0n, 0n]);
    },
  },
  {
    handler: { name: "audit", kind: "accesslog", attributes: ["request.method", "request.path", "request.useragent", "response.code", "response.flags"] },
    rules: [],
    check: (o) => {
      const lines = o.logs("info").map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = (m: string, path: string, ua: string, code: number, flags = "-") => ({
        "request.method": m, "request.path": path, "request.useragent": ua, "response.code": code, "response.flags": flags,
      });
      assert.deepEqual(lines, [
        line("GET", "/api/items", "shop-web/2.1", 200),
        line("POST", "/api/items", "shop-web/2.1", 200),
        line("GET", "/missing", "shop-web/2.1", 404),
        line("GET", "/admin/users", "shop-web/2.1", 403),
        line("GET", "/api/items", "badbot/0.3", 403),
        line("GET", "/api/items", "batch-job/1.0", 200),
        line("GET", "/api/items", "batch-job/1.0", 200),
        line("GET", "/api/items", "batch-job/1.0", 200),
        line("GET", "/api/items", "batch-job/1.0", 429),
        line("GET", "/api/items", "shop-web/2.1", 503, "UF"),
      ]);
      assert.deepEqual([o.counter("audit.reports"), o.counter("audit.failures")], [10n, 0n]);
    },
  },
  {
    handler: {
      name: "otel", kind: "otlp", cluster: OTLP_CLUSTER, batch_size: 10, flush_interval_ms: OTLP_FLUSH_MS,
      attributes: ["request.method", "request.path", "request.useragent", "response.code", "response.flags", "request.total_size", "response.total_size", "response.duration"],
    },
    rules: [{ name: "export", handlers: ["otel"] }],
    check: (o) => {
      // One LogRecord per request, refused ones included, in the traffic's order (one VM), typed.
      const records = o.otlp.records.map((r) => attrs(r.attributes));
      const seen = records.map((a) => [a["request.method"], a["request.path"], a["request.useragent"], a["response.code"], a["response.flags"]]);
      assert.deepEqual(seen, [
        ["GET", "/api/items", "shop-web/2.1", 200, "-"],
        ["POST", "/api/items", "shop-web/2.1", 200, "-"],
        ["GET", "/missing", "shop-web/2.1", 404, "-"],
        ["GET", "/admin/users", "shop-web/2.1", 403, "-"],
        ["GET", "/api/items", "badbot/0.3", 403, "-"],
        ["GET", "/api/items", "batch-job/1.0", 200, "-"],
        ["GET", "/api/items", "batch-job/1.0", 200, "-"],
        ["GET", "/api/items", "batch-job/1.0", 200, "-"],
        ["GET", "/api/items", "batch-job/1.0", 429, "-"],
        ["GET", "/api/items", "shop-web/2.1", 503, "UF"],
      ]);
      for (const r of o.otlp.records) {
        const kinds = Object.fromEntries(r.attributes.map((kv) => [kv.key, kv.value.value]));
        assert.deepEqual([kinds["response.code"], kinds["request.total_size"], kinds["request.path"]], ["int_value", "int_value", "string_value"]);
        assert.equal(r.body.string_value, "http request");
      }
      assert.ok((records[1]!["request.total_size"] as number) > '{"sku":"b-17"}'.length, "the POST's headers and body");

      // Istio's request metrics: the prometheus handler's series for the same requests, its extra
      // request_method dimension summed away.
      const total = o.otlp.metrics.find((m) => m.name === "istio_requests_total")?.sum;
      assert.ok(total, "istio_requests_total (standalone Envoy: Istio's names, as the prometheus handler's)");
      assert.equal(total.is_monotonic, true);
      assert.equal(total.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
      for (const p of total.data_points) assert.deepEqual(p.attributes.map((kv) => kv.key), [...ISTIO_HTTP_LABELS], "Istio's label set, in Istio's order");
      const key = (labels: Record<string, unknown>) => JSON.stringify(ISTIO_HTTP_LABELS.map((l) => labels[l]));
      const promTotals = new Map<string, number>();
      for (const s of o.scrape.find((f) => f.name === "istio_requests_total")!.samples) {
        promTotals.set(key(s.labels), (promTotals.get(key(s.labels)) ?? 0) + s.value);
      }
      const otlpTotals = new Map(total.data_points.map((p) => [key(attrs(p.attributes)), Number(p.as_int)]));
      assert.deepEqual([...otlpTotals].sort(), [...promTotals].sort());
      assert.equal([...otlpTotals.values()].reduce((a, n) => a + n, 0), 10);

      // Each histogram series counts the requests of its series; its sum is what the records say.
      const series = (a: Record<string, unknown>) => `${String(a["response.code"] ?? a.response_code)} ${String(a["response.flags"] ?? a.response_flags)}`;
      const histograms: [string, string][] = [["istio_request_duration_milliseconds", "response.duration"], ["istio_request_bytes", "request.total_size"], ["istio_response_bytes", "response.total_size"]];
      for (const [name, attr] of histograms) {
        const h = o.otlp.metrics.find((m) => m.name === name)?.histogram;
        assert.ok(h, name);
        assert.equal(h.data_points.reduce((a, p) => a + Number(p.count), 0), 10, `${name}: one sample per request`);
        for (const p of h.data_points) {
          const mine = records.filter((a) => series(a) === series(attrs(p.attributes)));
          assert.equal(Number(p.count), promTotals.get(key(attrs(p.attributes))), `${name} count = istio_requests_total of the series`);
          assert.equal(Number(p.count), mine.length, `${name} count`);
          assert.equal(p.sum, mine.reduce((a, r) => a + (r[attr] as number), 0), `${name} sum`);
          assert.deepEqual(p.explicit_bounds, ENVOY_DEFAULT_BUCKETS);
          assert.equal(p.bucket_counts.reduce((a, c) => a + Number(c), 0), Number(p.count));
        }
      }
      assert.deepEqual([o.counter("otel.reports"), o.counter("otel.failures"), o.counter("otel.log_records_exported"), o.counter("otel.log_records_dropped")], [10n, 0n, 10n, 0n]);
    },
  },
];

/** The configuration every adapter contributes to: handlers in order (checks: denier, list, memquota). */
function configuration(): Record<string, unknown> {
  return {
    handlers: ADAPTERS.map((a) => a.handler),
    rules: ADAPTERS.flatMap((a) => a.rules),
  };
}

async function cli(...argv: string[]): Promise<string> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  assert.equal(code, 0, err);
  return out;
}

function send(port: number, t: { path: string; ua: string; method?: string; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: SERVICE, "user-agent": t.ua };
    if (t.body !== undefined) headers["content-length"] = String(Buffer.byteLength(t.body));
    const req = http.request({ host: "127.0.0.1", port, path: t.path, method: t.method ?? "GET", headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ path: t.path, status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(t.body);
  });
}

describe("every telemetry adapter, one rendered rule set, the same traffic", () => {
  let upstream: http.Server;
  let upstreamPort = 0;
  const upstreamSaw: string[] = [];
  let host: Host;
  let outputs: Outputs;
  let countersBeforeTick: bigint[] = [];
  let collector: Awaited<ReturnType<typeof otlpCollector>>;

  before(async () => {
    upstream = http.createServer((req, res) => {
      upstreamSaw.push(req.url ?? "");
      req.resume();
      req.on("end", () => {
        res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "application/json" });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamPort = (upstream.address() as AddressInfo).port;
    collector = await otlpCollector();

    const yaml = await cli(
      "render", "http-telemetry", "envoy",
      "--upstream", `127.0.0.1:${upstreamPort}`,
      "--wasm-dir", BUILD,
      "--otlp-collector", `127.0.0.1:${collector.port}`,
      "--configuration", JSON.stringify(configuration()),
    );
    const bootstrap = parse(yaml) as Record<string, any>;
    const [plugin] = wasmPluginConfigs(bootstrap);
    assert.ok(plugin?.wasmFile, "the rendered wasm filter names its file");
    const hcm = renderedTerminal(bootstrap, "envoy.filters.network.http_connection_manager") as Record<string, any>;
    assert.deepEqual(hcm.http_filters.map((f: { name: string }) => f.name), ["envoy.filters.http.wasm", "envoy.filters.http.router"]);
    const cluster = String(hcm.route_config.virtual_hosts[0].routes[0].route.cluster);
    const otel = (bootstrap.static_resources.clusters as Record<string, any>[]).find((c) => c.name === OTLP_CLUSTER);
    assert.deepEqual(otel?.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS_KEY]?.explicit_http_config, { http2_protocol_options: {} }, "an HTTP/2 collector cluster");
    const statsTags = bootstrap.stats_config.stats_tags.map((t: { tag_name: string; regex: string }) => ({ tagName: t.tag_name, regex: t.regex }));

    // Ticks by hand only: the counters must still be in the VM before the first one, however slow the machine.
    host = new Host({ clusters: Object.fromEntries(renderedClusters(bootstrap)), timers: false });
    const p = await host.loadPlugin({
      name: plugin.name,
      wasm: plugin.wasmFile,
      rootId: plugin.rootId,
      vmId: plugin.vmId,
      configuration: plugin.configuration,
      failOpen: hcm.http_filters[0].typed_config.config.fail_open === true,
      vmCount: 1,
    });
    // The otlp handler's first flush is due OTLP_FLUSH_MS after on_configure, which ran by now.
    const flushDue = Date.now() + OTLP_FLUSH_MS;
    const listener = await host.httpListener({ cluster, filters: [p] });
    const replies: Reply[] = [];
    for (const t of TRAFFIC) replies.push(await send(listener.port, t));
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    replies.push(await send(listener.port, AFTER_UPSTREAM_GONE));
    await withTimeout(Promise.all(listener.requests.map((r) => r.completed)), 10_000, "requests to complete");

    const counter = (name: string): bigint => host.counter(`http_telemetry.handler.${name}`) ?? 0n;
    countersBeforeTick = ADAPTERS.map((a) => counter(`${String(a.handler.name)}.reports`));
    p.tick(); // metrics and every handler's counters are batched in the VM until on_tick
    // The ten records went as one full batch (batch_size 10); the metrics go at the first tick
    // past the flush interval.
    const metricsOf = () => collector.metrics.at(-1)?.resource_metrics[0]?.scope_metrics[0]?.metrics ?? [];
    const requestsIn = () => metricsOf().find((m) => m.name === "istio_requests_total")?.sum?.data_points.reduce((a, x) => a + Number(x.as_int), 0) ?? 0;
    await eventually(() => Date.now() >= flushDue, "the otlp flush interval", OTLP_FLUSH_MS + 5000);
    p.tick();
    await collector.until(() => collector.records().length === 10 && requestsIn() === 10, "10 log records and the metrics of 10 requests");
    await eventually(() => counter("otel.log_records_exported") === 10n, "the log export's answer counted");
    outputs = {
      replies,
      upstreamSaw,
      scrape: parsePrometheusText(prometheusText(host, { statsTags })),
      logs: (level) => host.logs.filter((e) => e.plugin === plugin.name && e.level === level).map((e) => e.message),
      counter,
      otlp: { records: collector.records(), metrics: metricsOf() },
    };
  });

  after(async () => {
    await host?.close();
    await collector?.close();
    if (upstream.listening) await new Promise<void>((r) => upstream.close(() => r()));
  });

  it("the clients got what each handler decided", () => {
    assert.deepEqual(outputs.replies.map((r) => [r.path, r.status]), [
      ["/api/items", 200], ["/api/items", 200], ["/missing", 404], ["/admin/users", 403], ["/api/items", 403],
      ["/api/items", 200], ["/api/items", 200], ["/api/items", 200], ["/api/items", 429], ["/api/items", 503],
    ]);
    assert.deepEqual(outputs.upstreamSaw, ["/api/items", "/api/items", "/missing", "/api/items", "/api/items", "/api/items"]);
  });

  for (const a of ADAPTERS) {
    it(`${String(a.handler.kind)} (${String(a.handler.name)}): its output for the traffic`, () => a.check(outputs));
  }

  it("no handler counter reaches the host before on_tick (a request makes no metric host call)", () => {
    assert.deepEqual(countersBeforeTick, ADAPTERS.map(() => 0n));
  });

  it("no error or warning in Envoy's log", () => {
    assert.deepEqual(["warn", "error", "critical"].flatMap((l) => outputs.logs(l)), []);
  });
});
