/**
 * tcp-stats' OTLP backend end to end: real clients → TCP listener (tcp-stats wasm + tcp_proxy) →
 * a real upstream; the filter exports over proxy_grpc_call (emulated with @grpc/grpc-js) to a
 * @grpc/grpc-js collector built from opentelemetry-proto's own .proto files, which decodes every
 * request. Ticks are driven by hand (flush_interval_ms is an hour) except where the timer itself
 * is under test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { ENVOY_DEFAULT_BUCKETS, attrs, eventually, otlpCollector, type Mode, type Scalar } from "./otlp-collector.js";
import { connect, doublingServer, readAll, withTimeout } from "../host/fakes.js";
import { ISTIO_TCP_LABELS } from "../../controller/telemetry/stats-tags.js";
import { bootstrap, HTTP_PROTOCOL_OPTIONS_KEY } from "../../controller/envoy/bootstrap.js";
import { standaloneBootstrapProps } from "../../controller/envoy/standalone.js";
import { renderedClusters } from "../host/rendered.js";
import { describe as describeFuzz, runFuzz } from "../../fuzz/run.js";
import { pluginPages } from "../../tools/harness/drive.js";

const tcpStatsWasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;
async function traffic(port: number, sizes: number[], sequential = false): Promise<void> {
  const one = async (size: number) => {
    const s = await connect(port);
    const reading = readAll(s);
    s.end(Buffer.alloc(size, 0x62));
    const r = await reading;
    assert.equal(r.bytes.length, 2 * size + 1);
  };
  if (sequential) for (const size of sizes) await one(size);
  else await Promise.all(sizes.map(one));
}

const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAME: "ratings-v1-7d9f8",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: { app: "ratings", version: "v1", "service.istio.io/canonical-name": "ratings", "service.istio.io/canonical-revision": "v1" },
};

describe("tcp-stats OTLP export", () => {
  let upstream: Awaited<ReturnType<typeof doublingServer>>;
  let collector: Awaited<ReturnType<typeof otlpCollector>>;

  before(async () => {
    upstream = await doublingServer();
    collector = await otlpCollector();
  });

  after(async () => {
    await collector.close();
    await upstream.close();
  });

  function newHost(): Host {
    return new Host({
      clusters: {
        backend: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] },
        otel: { endpoints: [{ host: "127.0.0.1", port: collector.port }] },
      },
      nodeMetadata: NODE,
    });
  }

  function reset(mode: Mode = "ok"): void {
    collector.logs.length = 0;
    collector.metrics.length = 0;
    collector.state.mode = mode;
  }

  it("sends one log record per connection and cumulative metrics that equal the traffic", async () => {
    reset();
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 2,
        configuration: JSON.stringify({ otlp: { cluster: "otel", batch_size: 100, flush_interval_ms: 3600000 } }),
      });
      const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
      const sizes = [1, 1000, 70_000];
      await traffic(l.port, sizes);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connections to close");
      assert.equal(collector.logs.length, 0, "nothing before a tick or a full batch");
      plugin.tick();
      // Two worker VMs: each sends its records, then its metrics.
      await collector.until(() => collector.records().length === 3 && collector.metrics.length === 2, "3 log records and 2 metric exports");

      const records = collector.records().sort((a, b) => Number(attrs(a.attributes)["connection.received.bytes"]) - Number(attrs(b.attributes)["connection.received.bytes"]));
      for (let i = 0; i < sizes.length; i++) {
        const r = records[i]!;
        const a = attrs(r.attributes);
        assert.equal(a["connection.received.bytes"], sizes[i]);
        assert.equal(a["connection.sent.bytes"], 2 * sizes[i]! + 1);
        assert.equal(a.reporter, "destination");
        assert.equal(a.destination_workload, "ratings-v1");
        assert.equal(a.destination_canonical_service, "ratings");
        assert.equal(a.source_workload, "unknown");
        assert.equal(a.request_protocol, "tcp");
        assert.equal(a.connection_security_policy, "none");
        assert.equal(a["connection.mtls"], false);
        assert.match(String(a["source.address"]), /^127\.0\.0\.1:\d+$/);
        assert.equal(a["destination.address"], `127.0.0.1:${l.port}`);
        assert.ok(typeof a["connection.duration_ms"] === "number" && a["connection.duration_ms"] >= 0);
        assert.deepEqual(r.attributes.slice(0, ISTIO_TCP_LABELS.length).map((kv) => kv.key), [...ISTIO_TCP_LABELS]);
        assert.equal(r.severity_number, "SEVERITY_NUMBER_INFO");
        assert.equal(r.body.string_value, "tcp connection");
        assert.ok(BigInt(r.time_unix_nano) > 1_600_000_000_000_000_000n, r.time_unix_nano);
        assert.equal(r.observed_time_unix_nano, r.time_unix_nano);
      }
      const instances = new Set<Scalar>();
      for (const req of [...collector.logs, ...collector.metrics]) {
        const rs = "resource_logs" in req ? req.resource_logs : req.resource_metrics;
        assert.equal(rs.length, 1);
        const ra = attrs(rs[0]!.resource.attributes);
        assert.equal(ra["service.name"], "ratings");
        assert.equal(ra["service.version"], "v1");
        assert.equal(ra["k8s.namespace.name"], "bookinfo");
        assert.equal(ra["istio.workload.name"], "ratings-v1");
        assert.equal(ra["istio.cluster_id"], "Kubernetes");
        assert.match(String(ra["service.instance.id"]), /^ratings-v1-7d9f8\/[0-9a-f]+$/);
        instances.add(ra["service.instance.id"]);
      }
      assert.equal(instances.size, 2, "one service.instance.id per worker VM");

      const metrics = collector.metrics.flatMap((r) => r.resource_metrics[0]!.scope_metrics[0]!.metrics);
      const total = (name: string) => metrics.filter((m) => m.name === name).flatMap((m) => m.sum!.data_points).reduce((s, p) => s + Number(p.as_int), 0);
      assert.equal(total("protomesh_tcp_connections_opened_total"), 3);
      assert.equal(total("protomesh_tcp_connections_closed_total"), 3);
      assert.equal(total("protomesh_tcp_received_bytes_total"), sizes.reduce((a, b) => a + b, 0));
      assert.equal(total("protomesh_tcp_sent_bytes_total"), sizes.reduce((a, b) => a + 2 * b + 1, 0));
      for (const m of metrics.filter((x) => x.sum !== undefined)) {
        assert.equal(m.sum!.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
        assert.equal(m.sum!.is_monotonic, true);
        for (const p of m.sum!.data_points) {
          assert.equal(attrs(p.attributes).destination_workload, "ratings-v1");
          assert.ok(BigInt(p.start_time_unix_nano) <= BigInt(p.time_unix_nano));
        }
      }
      const hist = metrics.filter((m) => m.name === "protomesh_tcp_connection_duration_milliseconds");
      assert.equal(hist.length, 2);
      const points = hist.flatMap((m) => m.histogram!.data_points);
      assert.equal(points.reduce((s, p) => s + Number(p.count), 0), 3);
      for (const m of hist) assert.equal(m.histogram!.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
      for (const p of points) {
        assert.deepEqual(p.explicit_bounds, ENVOY_DEFAULT_BUCKETS);
        assert.equal(p.bucket_counts.length, ENVOY_DEFAULT_BUCKETS.length + 1);
        assert.equal(p.bucket_counts.reduce((s, c) => s + Number(c), 0), Number(p.count));
        assert.ok(p.min !== undefined && p.max !== undefined && p.min <= p.max);
      }

      // The collector has answered; the filter counts when the answer reaches it.
      await eventually(() => host.counter("protomesh_otlp.exports_ok") === 4n, "four answered exports");
      assert.equal(host.counter("protomesh_otlp.log_records_exported"), 3n);
      // One label set per VM: 2 series × (4 sums + 1 histogram).
      assert.equal(host.counter("protomesh_otlp.metric_points_exported"), 10n);
      assert.equal(host.counter("protomesh_otlp.log_records_dropped") ?? 0n, 0n);
      assert.equal(host.gauge("protomesh_otlp.log_queue_records"), 0n);

      // Cumulative: the next tick reports the same totals again (no new traffic).
      collector.metrics.length = 0;
      plugin.tick();
      await collector.until(() => collector.metrics.length === 2, "the second metrics pass");
      const again = collector.metrics.flatMap((r) => r.resource_metrics[0]!.scope_metrics[0]!.metrics);
      const opened = again.filter((m) => m.name === "protomesh_tcp_connections_opened_total").flatMap((m) => m.sum!.data_points);
      assert.equal(opened.reduce((s, p) => s + Number(p.as_int), 0), 3);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("sends a full batch at once and the rest on the tick; Istio names when istio_metrics is istio", async () => {
    reset();
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1,
        configuration: JSON.stringify({ istio_metrics: "istio", otlp: { cluster: "otel", batch_size: 2, flush_interval_ms: 3600000, metrics: true } }),
      });
      const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
      await traffic(l.port, [10, 20, 30, 40, 50], true);
      await collector.until(() => collector.logs.length === 2, "two full batches");
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connections to close");
      const perRequest = () => collector.logs.map((r) => r.resource_logs[0]!.scope_logs[0]!.log_records.length);
      assert.deepEqual(perRequest(), [2, 2]);
      assert.equal(collector.metrics.length, 0, "metrics go on the tick only");
      plugin.tick();
      await collector.until(() => collector.logs.length === 3 && collector.metrics.length === 1, "the tick's flush");
      assert.deepEqual(perRequest(), [2, 2, 1]);
      assert.deepEqual(
        collector.records().map((r) => attrs(r.attributes)["connection.received.bytes"]),
        [10, 20, 30, 40, 50],
        "in order, each once",
      );
      const names = collector.metrics[0]!.resource_metrics[0]!.scope_metrics[0]!.metrics.map((m) => m.name);
      assert.deepEqual(names, [
        "istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total", "istio_tcp_received_bytes_total",
        "istio_tcp_sent_bytes_total", "istio_tcp_connection_duration_milliseconds",
      ]);
      assert.equal(collector.metrics[0]!.resource_metrics[0]!.scope_metrics[0]!.scope.name, "protomesh.tcp-stats");
    } finally {
      await host.close();
    }
  });

  it("flushes on the flush_interval_ms timer", async () => {
    reset();
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1,
        configuration: JSON.stringify({ otlp: { cluster: "otel", flush_interval_ms: 100, metrics: false } }),
      });
      const l = await host.tcpListener({ filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
      await traffic(l.port, [7]);
      await collector.until(() => collector.records().length === 1, "the timer's flush");
      assert.equal(collector.metrics.length, 0, "metrics: false");
    } finally {
      await host.close();
    }
  });

  it("counts drops against a failing collector, keeps the queue bounded, and recovers", async () => {
    reset("fail");
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1,
        configuration: JSON.stringify({ otlp: { cluster: "otel", batch_size: 2, max_queue_size: 4, flush_interval_ms: 3600000 } }),
      });
      const l = await host.tcpListener({ filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
      const dropped = () => host.counter("protomesh_otlp.log_records_dropped") ?? 0n;
      const queued = () => host.gauge("protomesh_otlp.log_queue_records") ?? 0n;
      await traffic(l.port, [1, 2]);
      await eventually(() => (host.counter("protomesh_otlp.exports_failed") ?? 0n) === 1n, "the first failed export");
      assert.equal(dropped(), 2n, "the failed batch");
      // Backing off until the next tick: the queue fills to max_queue_size, then records drop.
      await traffic(l.port, [3, 4, 5, 6, 7, 8, 9, 10], true);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connections to close");
      assert.equal(queued(), 4n);
      assert.equal(dropped(), 6n);
      assert.equal(host.counter("protomesh_otlp.exports_failed"), 1n, "one call per interval while failing");

      collector.state.mode = "ok";
      plugin.tick();
      await collector.until(() => collector.records().length === 4, "the queued records after recovery");
      assert.deepEqual(collector.records().map((r) => attrs(r.attributes)["connection.received.bytes"]), [3, 4, 5, 6]);
      await eventually(() => host.counter("protomesh_otlp.log_records_exported") === 4n, "the exported count");
      assert.equal(dropped() + (host.counter("protomesh_otlp.log_records_exported") ?? 0n), 10n, "every record exported or counted as dropped");
      await eventually(() => queued() === 0n, "an empty queue");
      const warns = host.logs.filter((e) => e.level === "warn").map((e) => e.message);
      assert.equal(warns.length, 1, warns.join("\n"));
      assert.match(warns[0]!, /^otlp: export to cluster otel failed while exporting logs, grpc status 14; retrying at the next flush$/);
      assert.ok(host.logs.some((e) => e.level === "info" && e.message === "otlp: exports to cluster otel succeed again"));
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical"), []);
    } finally {
      await host.close();
    }
  });

  it("counts a timed-out export against a slow collector and keeps serving connections", async () => {
    reset("slow");
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1,
        configuration: JSON.stringify({ otlp: { cluster: "otel", timeout_ms: 100, flush_interval_ms: 3600000, metrics: false } }),
      });
      const l = await host.tcpListener({ filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
      await traffic(l.port, [5]);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      plugin.tick();
      await eventually(() => host.counter("protomesh_otlp.exports_timed_out") === 1n, "the timeout");
      assert.equal(host.counter("protomesh_otlp.log_records_dropped"), 1n);
      assert.equal(host.counter("protomesh_otlp.exports_failed") ?? 0n, 0n);
      // The VM is healthy: more traffic passes and is counted.
      await traffic(l.port, [6, 7]);
      await eventually(() => host.gauge("protomesh_otlp.log_queue_records") === 2n, "two queued records");
      assert.equal(host.counter("tcp_stats.connections_closed"), 3n);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical"), []);
    } finally {
      await host.close();
    }
  });

  it("runs the controller's standalone bootstrap: the collector cluster speaks HTTP/2 and receives the exports", async () => {
    reset();
    const configuration = { otlp: { cluster: "otel_collector", flush_interval_ms: 3600000 } };
    const rendered = bootstrap(standaloneBootstrapProps({
      filter: "tcp-stats",
      upstream: { address: "127.0.0.1", port: upstream.port },
      otlpCollector: { address: "127.0.0.1", port: collector.port },
      configuration,
    }));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const clusters = (rendered as any).static_resources.clusters as Record<string, unknown>[];
    const otel = clusters.find((c) => c.name === "otel_collector");
    assert.ok(otel, "the collector cluster is rendered");
    assert.equal(otel.type, "STATIC");
    assert.deepEqual(otel.typed_extension_protocol_options, {
      [HTTP_PROTOCOL_OPTIONS_KEY]: { "@type": `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`, explicit_http_config: { http2_protocol_options: {} } },
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const wasm = (rendered as any).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.config;
    const host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)), nodeMetadata: NODE });
    try {
      const plugin = await host.loadPlugin({ name: wasm.name, wasm: tcpStatsWasm, rootId: wasm.root_id, vmCount: 1, configuration: wasm.configuration.value });
      const l = await host.tcpListener({ filterChains: [{ filters: [plugin], tcpProxy: { cluster: "upstream" } }] });
      await traffic(l.port, [3]);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      plugin.tick();
      await collector.until(() => collector.records().length === 1 && collector.metrics.length === 1, "the exports");
      assert.equal(attrs(collector.records()[0]!.attributes)["connection.received.bytes"], 3);
    } finally {
      await host.close();
    }
  });

  it("fails the plugin start naming a bad otlp field", async () => {
    const host = newHost();
    try {
      const cases: [unknown, string][] = [
        [{ otlp: {} }, '"otlp.cluster" is required'],
        [{ otlp: { cluster: "otel", batch_size: 0 } }, '"otlp.batch_size" must be a number of log records, an integer 1..1000, found 0'],
        [{ otlp: { cluster: "otel", logs: "yes" } }, '"otlp.logs" must be true or false, found "yes"'],
        [{ otlp: { cluster: "otel", timeoutMs: 5 } }, 'unknown field "otlp.timeoutMs"'],
        [{ otlp: { cluster: "otel", batch_size: 10, max_queue_size: 5 } }, '"otlp.max_queue_size" must be at least batch_size (10), found 5'],
      ];
      for (const [config, want] of cases) {
        await assert.rejects(
          host.loadPlugin({ name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1, configuration: JSON.stringify(config) }),
        );
        assert.ok(host.logs.some((e) => e.level === "error" && e.message.includes(want)), `${want}\n${host.logs.map((e) => e.message).join("\n")}`);
      }
    } finally {
      await host.close();
    }
  });

  it("keeps memory flat and never traps while every export fails (no collector cluster) and the queue overflows", async () => {
    const configuration = JSON.stringify({ otlp: { cluster: "otel", batch_size: 16, max_queue_size: 64 } });
    const debug = await runFuzz({ seed: 9, iterations: 300, filter: tcpStatsWasm.replace(/\.wasm$/, ".debug.wasm"), configuration });
    assert.equal(debug.failure, undefined, debug.failure && describeFuzz(debug));
    const r = await runFuzz({ seed: 9, iterations: 3000, filter: tcpStatsWasm, configuration, warmup: 500 });
    assert.equal(r.failure, undefined, r.failure && describeFuzz(r));
    assert.ok(r.ticks > 0, "ticks ran");
    assert.ok(r.pagesEnd <= r.pagesWarm + 2, `${r.pagesWarm} → ${r.pagesEnd} pages`);
    const stat = (name: string) => r.stats.find((s) => s.name === `wasmcustom.protomesh_otlp.${name}`)?.value ?? 0n;
    assert.equal(stat("log_records_exported"), 0n);
    assert.ok(stat("exports_failed") > 0n);
    // Every finished connection's record is dropped (failed export or full queue) or still queued.
    assert.equal(stat("log_records_dropped") + stat("log_queue_records"), BigInt(r.connections));
    assert.ok(stat("log_queue_records") <= 64n);
  });

  it("keeps memory flat over 4,000 exported connections", async () => {
    reset();
    const host = newHost();
    try {
      const plugin = await host.loadPlugin({
        name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1,
        configuration: JSON.stringify({ otlp: { cluster: "otel", batch_size: 64, flush_interval_ms: 3600000 } }),
      });
      const down = new Uint8Array(100);
      const up = new Uint8Array(201);
      let warm = 0;
      const rounds = 20;
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < 200; i++) {
          const conn = host.connection({ filters: [plugin], keepOutputs: false });
          conn.newConnection();
          conn.downstreamData(down);
          conn.upstreamData(up);
          conn.close("Remote");
        }
        plugin.tick();
        const want = BigInt(200 * (round + 1));
        await eventually(() => host.counter("protomesh_otlp.log_records_exported") === want, `${want} exported records`);
        if (round === 4) warm = pluginPages(plugin);
      }
      assert.equal(collector.records().length, 200 * rounds);
      assert.equal(host.counter("protomesh_otlp.log_records_dropped") ?? 0n, 0n);
      const end = pluginPages(plugin);
      assert.ok(end <= warm + 2, `${warm} → ${end} pages`);
    } finally {
      await host.close();
    }
  });
});
