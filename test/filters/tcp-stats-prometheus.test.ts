/**
 * tcp-stats' Istio-style TCP metrics end to end: real clients → TCP listener (tcp-stats wasm +
 * tcp_proxy) → a real upstream, then the emulated Envoy's `/stats/prometheus` text with the
 * controller's stats_tags, parsed strictly and compared with a fixed table of Istio's labels.
 * The emulated node has no Istio metadata and no metadata exchange ran: the peer's labels are
 * `unknown`, the local node's empty, as istio.stats prints them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { NetworkFilterFactory } from "../host/types.js";
import { connect, doublingServer, readAll, withTimeout } from "../host/fakes.js";
import { prometheusText, type PromStat } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { ISTIO_TCP_LABELS, tcpStatsTags } from "../../controller/telemetry/stats-tags.js";

const tcpStatsWasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;

/**
 * Istio's labels for an inbound TCP connection with nothing known about either side: the peer's
 * `unknown` (its canonical revision `latest`), the local node's values empty as istio.stats
 * prints them (istio_stats.cc populatePeerInfo).
 */
const UNKNOWN_INBOUND: Record<string, string> = Object.fromEntries(
  ISTIO_TCP_LABELS.map((k) => [
    k,
    k === "reporter" ? "destination"
    : k === "request_protocol" ? "tcp"
    : k === "response_flags" ? "-"
    : k === "connection_security_policy" ? "none"
    : k === "source_canonical_revision" ? "latest"
    : k.startsWith("source_") || k === "destination_principal" ? "unknown"
    : "",
  ]),
);

function family(fams: Family[], name: string): Family {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `no family ${name} in ${fams.map((x) => x.name).join(", ")}`);
  return f;
}

describe("tcp-stats Istio TCP metrics in Envoy's Prometheus text", () => {
  let upstream: Awaited<ReturnType<typeof doublingServer>>;
  let host: Host;

  before(async () => {
    upstream = await doublingServer();
    host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } } });
  });

  after(async () => {
    await host.close();
    await upstream.close();
  });

  it("reports opened/closed/bytes with Istio's names and labels, and the scrape parses strictly beside istio.stats' families", async () => {
    const plugin = await host.loadPlugin({
      name: "tcp-stats",
      wasm: tcpStatsWasm,
      rootId: "tcp-stats",
      vmCount: 2,
      configuration: '{"istio_metrics": "prefixed", "max_series": 10}',
    });
    const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
    const requests = [1, 1000, 70_000];
    await Promise.all(
      requests.map(async (size) => {
        const s = await connect(l.port);
        const reading = readAll(s);
        s.end(Buffer.alloc(size, 0x62));
        return reading;
      }),
    );
    await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connections to close");
    const received = requests.reduce((a, b) => a + b, 0);
    const sent = requests.reduce((a, b) => a + 2 * b + 1, 0);

    // istio.stats' own TCP families in the same scrape (namespace istiocustom, native tags).
    const istio: PromStat[] = [
      { name: "istiocustom.istio_tcp_connections_opened_total", type: "counter", value: 7n, tags: [{ name: "reporter", value: "destination" }, { name: "request_protocol", value: "tcp" }] },
    ];
    const text = prometheusText(host, { statsTags: tcpStatsTags(), customNamespaces: ["wasmcustom", "istiocustom"] }, istio);
    const fams = parsePrometheusText(text);
    const expected: [string, number][] = [
      ["protomesh_tcp_connections_opened_total", requests.length],
      ["protomesh_tcp_connections_closed_total", requests.length],
      ["protomesh_tcp_received_bytes_total", received],
      ["protomesh_tcp_sent_bytes_total", sent],
    ];
    for (const [name, value] of expected) {
      const f = family(fams, name);
      assert.equal(f.type, "counter");
      assert.equal(f.samples.length, 1, `${name}: one series`);
      assert.deepEqual({ ...f.samples[0]!.labels }, UNKNOWN_INBOUND, name);
      assert.deepEqual(Object.keys(f.samples[0]!.labels), [...ISTIO_TCP_LABELS], `${name}: label order`);
      assert.equal(f.samples[0]!.value, value, name);
    }
    assert.equal(family(fams, "istio_tcp_connections_opened_total").samples[0]!.value, 7);
    assert.equal(family(fams, "tcp_stats_istio_series_overflow").samples[0]!.value, 0);
    assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical"), []);
  });

  it("uses Istio's own names when asked, and sends label sets beyond max_series to one counted overflow series", async () => {
    const h = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } } });
    try {
      const plugin = await h.loadPlugin({ name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1, configuration: '{"istio_metrics": "istio", "max_series": 1}' });
      for (const direction of ["INBOUND", "OUTBOUND"] as const) {
        const l = await h.tcpListener({ direction, filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
        const s = await connect(l.port);
        const reading = readAll(s);
        s.end(Buffer.alloc(10, 0x62));
        await reading;
        await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      }
      const fams = parsePrometheusText(prometheusText(h, { statsTags: tcpStatsTags() }));
      const opened = family(fams, "istio_tcp_connections_opened_total");
      assert.deepEqual(
        opened.samples.map((x) => [x.labels.reporter, x.labels.source_workload, x.value]),
        [
          ["destination", "unknown", 1],
          ["overflow", "overflow", 1],
        ],
      );
      assert.equal(family(fams, "istio_tcp_received_bytes_total").samples.reduce((a, x) => a + x.value, 0), 20);
      assert.equal(family(fams, "tcp_stats_istio_series_overflow").samples[0]!.value, 1);
    } finally {
      await h.close();
    }
  });

  it("labels the local side from the node metadata and the peer from metadata exchange's downstream_peer_obj", async () => {
    const h = new Host({
      clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } },
      nodeMetadata: {
        WORKLOAD_NAME: "ratings-v1",
        NAMESPACE: "bookinfo",
        CLUSTER_ID: "Kubernetes",
        LABELS: { app: "ratings", version: "v1", "service.istio.io/canonical-name": "ratings", "service.istio.io/canonical-revision": "v1" },
      },
    });
    // Istio's istio.metadata_exchange runs before tcp-stats on inbound chains and leaves the
    // peer as a WorkloadMetadataObject (istio/proxy source/extensions/common/metadata_object.h).
    const metadataExchange: NetworkFilterFactory = {
      name: "istio.metadata_exchange",
      create: (cb) => ({
        onNewConnection: () => {
          cb.connection.filterState.set("downstream_peer_obj", {
            value: new Uint8Array(0),
            span: "FilterChain",
            readOnly: false,
            fields: { workload: "productpage-v1", namespace: "bookinfo", cluster: "Kubernetes", service: "productpage", revision: "v1", app: "productpage", version: "v1" },
          });
          return "Continue";
        },
        onData: () => "Continue",
        onWrite: () => "Continue",
        onEvent: () => {},
      }),
    };
    try {
      const plugin = await h.loadPlugin({ name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 1, configuration: '{"istio_metrics": "istio"}' });
      const l = await h.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [metadataExchange, plugin], tcpProxy: { cluster: "backend" } }] });
      const s = await connect(l.port);
      const reading = readAll(s);
      s.end(Buffer.alloc(5, 0x62));
      await reading;
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      const fams = parsePrometheusText(prometheusText(h, { statsTags: tcpStatsTags() }));
      const opened = family(fams, "istio_tcp_connections_opened_total");
      assert.equal(opened.samples.length, 1);
      assert.deepEqual({ ...opened.samples[0]!.labels }, {
        reporter: "destination",
        source_workload: "productpage-v1",
        source_canonical_service: "productpage",
        source_canonical_revision: "v1",
        source_workload_namespace: "bookinfo",
        source_principal: "unknown",
        source_app: "productpage",
        source_version: "v1",
        source_cluster: "Kubernetes",
        destination_workload: "ratings-v1",
        destination_workload_namespace: "bookinfo",
        destination_principal: "unknown",
        destination_app: "ratings",
        destination_version: "v1",
        destination_service: "ratings",
        destination_canonical_service: "ratings",
        destination_canonical_revision: "v1",
        destination_service_name: "ratings",
        destination_service_namespace: "bookinfo",
        destination_cluster: "Kubernetes",
        request_protocol: "tcp",
        response_flags: "-",
        connection_security_policy: "none",
      });
      assert.equal(opened.samples[0]!.value, 1);
      assert.equal(family(fams, "istio_tcp_received_bytes_total").samples[0]!.value, 5);
      assert.equal(family(fams, "istio_tcp_sent_bytes_total").samples[0]!.value, 11);
      assert.equal(family(fams, "istio_tcp_connections_closed_total").samples[0]!.value, 1);
    } finally {
      await h.close();
    }
  });
});
