/**
 * tcp-stats as the telemetry engine's TCP ingestion adapter: real node TCP clients → emulated
 * TCP listeners (tcp-stats + tcp_proxy) → real upstreams. A connection is the unit the rules
 * match: the access log writes one JSON line per connection at close (parsed here), the
 * prometheus handler reports Istio's TCP metrics, and check handlers (denier, list, memquota)
 * close the downstream connection before the upstream receives a byte.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

import { Host } from "../host/index.js";
import type { NetworkFilterFactory } from "../host/types.js";
import { connect, doublingServer, readAll, recordingServer, withTimeout, type RecordingServer } from "../host/fakes.js";
import { prometheusText, type PromStat } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { tcpStatsTags } from "../../controller/telemetry/stats-tags.js";

const wasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;
const debugWasm = new URL("../../build/tcp-stats.debug.wasm", import.meta.url).pathname;
const snifferWasm = new URL("../../build/sniffer.wasm", import.meta.url).pathname;

const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: { app: "ratings", version: "v1", "service.istio.io/canonical-name": "ratings", "service.istio.io/canonical-revision": "v1" },
};

/** Istio's metadata exchange, done before tcp-stats: the downstream peer is `workload`. */
function peer(workload: string): NetworkFilterFactory {
  return {
    name: "istio.metadata_exchange",
    create: (cb) => ({
      onNewConnection: () => {
        cb.connection.filterState.set("downstream_peer_obj", {
          value: new Uint8Array(0),
          span: "FilterChain",
          readOnly: false,
          fields: { workload, namespace: "bookinfo", cluster: "Kubernetes", service: workload.replace(/-v\d+$/, ""), revision: "v1", app: workload.replace(/-v\d+$/, ""), version: "v1" },
        });
        return "Continue";
      },
      onData: () => "Continue",
      onWrite: () => "Continue",
      onEvent: () => {},
    }),
  };
}

/** Sends `size` bytes, half-closes and reads the answer to the end. */
async function exchange(port: number, size: number): Promise<Buffer> {
  const s = await connect(port);
  const reading = readAll(s);
  s.end(Buffer.alloc(size, 0x62));
  return (await reading).bytes;
}

function family(fams: Family[], name: string): Family {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `no family ${name} in ${fams.map((x) => x.name).join(", ")}`);
  return f;
}

/** tcp-stats' JSON access-log lines, parsed. */
function accessLog(host: Host): Record<string, unknown>[] {
  return host.logs.filter((e) => e.plugin === "tcp-stats" && e.message.startsWith("{")).map((e) => JSON.parse(e.message) as Record<string, unknown>);
}

describe("tcp-stats rules and handlers", () => {
  let doubling: Awaited<ReturnType<typeof doublingServer>>;

  before(async () => {
    doubling = await doublingServer();
  });
  after(async () => {
    await doubling.close();
  });

  async function plugin(host: Host, configuration: unknown, vmCount = 1, debug = false): ReturnType<Host["loadPlugin"]> {
    return host.loadPlugin({ name: "tcp-stats", wasm: debug ? debugWasm : wasm, rootId: "tcp-stats", vmCount, configuration: JSON.stringify(configuration) });
  }

  it("rules select connections: one JSON access-log line per matching connection at close; the prometheus handler reports Istio's TCP metrics", async () => {
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: doubling.port }] } }, nodeMetadata: NODE as never });
    try {
      const p = await plugin(host, {
        handlers: [
          { name: "prom", kind: "prometheus", metrics: "istio" },
          {
            name: "redis_log", kind: "accesslog",
            attributes: ["connection.id", "request.protocol", "source.workload", "destination.workload", "destination.address", "destination.port",
              "xds.cluster_name", "connection.mtls", "connection.received.bytes", "connection.sent.bytes", "connection.duration", "protomesh.protocol"],
          },
        ],
        rules: [
          { name: "all", handlers: ["prom"] },
          { name: "redis", match: { "destination.port": { exact: 6379 }, "source.workload": { prefix: "productpage" } }, handlers: ["redis_log"] },
        ],
      }, 1, true);
      const redis = await host.tcpListener({ direction: "INBOUND", originalDst: { host: "10.0.0.7", port: 6379 }, filterChains: [{ filters: [peer("productpage-v1"), p], tcpProxy: { cluster: "backend" } }] });
      const other = await host.tcpListener({ direction: "INBOUND", originalDst: { host: "10.0.0.7", port: 9080 }, filterChains: [{ filters: [peer("productpage-v1"), p], tcpProxy: { cluster: "backend" } }] });
      const anon = await host.tcpListener({ direction: "INBOUND", originalDst: { host: "10.0.0.7", port: 6379 }, filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
      assert.equal((await exchange(redis.port, 5)).length, 11);
      assert.equal((await exchange(other.port, 7)).length, 15);
      assert.equal((await exchange(anon.port, 3)).length, 7);
      await withTimeout(Promise.all([redis, other, anon].flatMap((l) => l.connections.map((c) => c.closed))), 5000, "connections to close");

      const lines = accessLog(host);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const line = lines[0]!;
      assert.equal(typeof line["connection.id"], "number");
      assert.ok((line["connection.duration"] as number) >= 0);
      assert.deepEqual({ ...line, "connection.id": 0, "connection.duration": 0 }, {
        "connection.id": 0,
        "request.protocol": "tcp",
        "source.workload": "productpage-v1",
        "destination.workload": "ratings-v1",
        "destination.address": "10.0.0.7:6379",
        "destination.port": 6379,
        "xds.cluster_name": "backend",
        "connection.mtls": false,
        "connection.received.bytes": 5,
        "connection.sent.bytes": 11,
        "connection.duration": 0,
        "protomesh.protocol": "",
      });

      const fams = parsePrometheusText(prometheusText(host, { statsTags: tcpStatsTags() }));
      const opened = family(fams, "istio_tcp_connections_opened_total");
      assert.deepEqual(opened.samples.map((x) => [x.labels.source_workload, x.value]), [["productpage-v1", 2], ["unknown", 1]]);
      assert.deepEqual(family(fams, "istio_tcp_received_bytes_total").samples.map((x) => [x.labels.source_workload, x.value]), [["productpage-v1", 12], ["unknown", 3]]);
      assert.deepEqual(family(fams, "istio_tcp_connections_closed_total").samples.map((x) => x.value), [2, 1]);
      assert.equal(host.counter("tcp_stats.handler.prom.reports"), 3n);
      assert.equal(host.counter("tcp_stats.handler.redis_log.reports"), 1n);
      // The filter's own counters are there whatever the handlers.
      assert.equal(host.counter("tcp_stats.connections_closed"), 3n);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("the sniffer's verdict (observe mode, decided at the first bytes) is request.protocol, protomesh.protocol and the request_protocol label", async () => {
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: doubling.port }] } }, nodeMetadata: NODE as never });
    try {
      const sniffer = await host.loadPlugin({ name: "sniffer", wasm: snifferWasm, rootId: "sniffer", vmCount: 1, configuration: '{"mode": "observe"}' });
      const p = await plugin(host, {
        handlers: [{ name: "prom", kind: "prometheus", metrics: "istio" }, { name: "log", kind: "accesslog", attributes: ["request.protocol", "protomesh.protocol"] }],
        rules: [{ name: "all", handlers: ["prom"] }, { name: "redis", match: { "protomesh.protocol": { exact: "redis" } }, handlers: ["log"] }],
      });
      const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [sniffer, p], tcpProxy: { cluster: "backend" } }] });
      const ping = Buffer.from("*1\r\n$4\r\nPING\r\n");
      const s = await connect(l.port);
      const reading = readAll(s);
      s.end(ping);
      assert.equal((await reading).bytes.length, 2 * ping.length + 1);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      assert.deepEqual(accessLog(host), [{ "request.protocol": "redis", "protomesh.protocol": "redis" }]);
      const fams = parsePrometheusText(prometheusText(host, { statsTags: tcpStatsTags() }));
      assert.deepEqual(family(fams, "istio_tcp_connections_opened_total").samples.map((x) => x.labels.request_protocol), ["redis"]);
    } finally {
      await host.close();
    }
  });

  it("metrics auto: protomesh_tcp_* on an Istio proxy, beside istio.stats' own family in one scrape that parses strictly", async () => {
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: doubling.port }] } }, nodeMetadata: { ...NODE, ISTIO_VERSION: "1.29.0" } as never });
    try {
      const p = await plugin(host, { handlers: [{ name: "prom", kind: "prometheus" }] });
      const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
      assert.equal((await exchange(l.port, 4)).length, 9);
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connection to close");
      const istio: PromStat[] = [
        { name: "istiocustom.istio_tcp_connections_opened_total", type: "counter", value: 1n, tags: [{ name: "reporter", value: "destination" }, { name: "request_protocol", value: "tcp" }] },
      ];
      const fams = parsePrometheusText(prometheusText(host, { statsTags: tcpStatsTags(), customNamespaces: ["wasmcustom", "istiocustom"] }, istio));
      assert.equal(family(fams, "protomesh_tcp_connections_opened_total").samples[0]!.value, 1);
      assert.equal(family(fams, "protomesh_tcp_sent_bytes_total").samples[0]!.value, 9);
      const ours = family(fams, "istio_tcp_connections_opened_total");
      assert.equal(ours.samples.length, 1, "istio_tcp_* is istio.stats' alone: no double count");
    } finally {
      await host.close();
    }
  });

  describe("check handlers close the downstream connection before the upstream sees a byte", () => {
    let sink: RecordingServer;
    before(async () => {
      sink = await recordingServer("echo");
    });
    after(async () => {
      await sink.close();
    });

    it("denier on destination.port decides at the connection's start: tcp_proxy never connects upstream", async () => {
      const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: sink.port }] } }, nodeMetadata: NODE as never });
      try {
        const p = await plugin(host, {
          handlers: [{ name: "deny", kind: "denier" }, { name: "log", kind: "accesslog", attributes: ["destination.port", "connection.received.bytes"] }],
          rules: [{ name: "no_redis", match: { "destination.port": { exact: "6379" } }, handlers: ["deny"] }, { name: "all", handlers: ["log"] }],
        }, 1, true);
        const denied = await host.tcpListener({ direction: "INBOUND", originalDst: { host: "10.0.0.7", port: 6379 }, filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
        const allowed = await host.tcpListener({ direction: "INBOUND", originalDst: { host: "10.0.0.7", port: 9080 }, filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
        const before = sink.accepted;
        const s = await connect(denied.port);
        const reading = readAll(s);
        s.write("PING\r\n");
        const got = await reading;
        assert.equal(got.bytes.length, 0, "nothing came back");
        await withTimeout(Promise.all(denied.connections.map((c) => c.closed)), 5000, "denied connection to close");
        assert.equal(sink.accepted, before, "tcp_proxy never connected upstream");
        assert.equal((await exchange(allowed.port, 6)).toString(), "bbbbbb", "other ports pass");
        await withTimeout(Promise.all(allowed.connections.map((c) => c.closed)), 5000, "allowed connection to close");
        assert.equal(host.counter("tcp_stats.handler.deny.denied"), 1n);
        assert.equal(host.counter("tcp_stats.handler.deny.allowed") ?? 0n, 0n);
        // The refused connection is still logged at close; closed at its start, it never read a byte
        // (tcp_proxy keeps downstream reads off until it has an upstream: Filter::initialize).
        assert.deepEqual(accessLog(host), [{ "destination.port": 6379, "connection.received.bytes": 0 }, { "destination.port": 9080, "connection.received.bytes": 6 }]);
      } finally {
        await host.close();
      }
    });

    it("a fail-closed access log that failed closes the next connections at their start", async () => {
      const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: sink.port }] } }, nodeMetadata: NODE as never });
      try {
        // Every line is longer than max_line_bytes: each report fails.
        const p = await plugin(host, {
          handlers: [{ name: "audit", kind: "accesslog", fail_open: false, max_line_bytes: 64, attributes: ["source.workload", "destination.workload", "destination.address", "xds.cluster_name"] }],
        });
        const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
        assert.equal((await exchange(l.port, 3)).toString(), "bbb", "the first connection passes");
        await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "first connection to close");
        assert.equal(host.counter("tcp_stats.handler.audit.failures"), 1n);
        const accepted = sink.accepted;
        assert.equal((await exchange(l.port, 3)).length, 0, "the next is closed");
        await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "second connection to close");
        assert.equal(sink.accepted, accepted, "tcp_proxy never connected upstream");
        assert.equal(host.logs.filter((e) => e.level === "warn" && e.message.includes("handler audit failed")).length, 1);
      } finally {
        await host.close();
      }
    });

    it("list on source.workload decides at the first data (the peer arrives with it): the upstream connection sees no byte", async () => {
      const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: sink.port }] } }, nodeMetadata: NODE as never });
      try {
        const p = await plugin(host, {
          handlers: [{ name: "callers", kind: "list", attribute: "source.workload", entries: ["productpage-v1"] }],
          rules: [{ name: "all", handlers: ["callers"] }],
        }, 1, true);
        const stranger = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [peer("reviews-v2"), p], tcpProxy: { cluster: "backend" } }] });
        const friend = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [peer("productpage-v1"), p], tcpProxy: { cluster: "backend" } }] });

        const upstream = sink.nextConnection();
        const accepted = sink.accepted;
        const s = await connect(stranger.port);
        const reading = readAll(s);
        const up = await upstream;
        const upClosed = new Promise<void>((r) => up.once("close", () => r()));
        s.write("secret");
        assert.equal((await reading).bytes.length, 0);
        await withTimeout(upClosed, 5000, "upstream connection to close");
        assert.deepEqual(sink.received[accepted], [], "the upstream received nothing");

        assert.equal((await exchange(friend.port, 4)).toString(), "bbbb", "a listed caller passes");
        await withTimeout(Promise.all([stranger, friend].flatMap((l) => l.connections.map((c) => c.closed))), 5000, "connections to close");
        assert.equal(host.counter("tcp_stats.handler.callers.denied"), 1n);
        assert.equal(host.counter("tcp_stats.handler.callers.allowed"), 1n);
      } finally {
        await host.close();
      }
    });
  });

  it("memquota: connections per period across two worker VMs stay within 5% of the configured rate", async (t) => {
    const maxAmount = 10;
    const validMs = 250; // 40 connections per second
    const runMs = 5000;
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: doubling.port }] } } });
    try {
      const p = await plugin(host, { handlers: [{ name: "q", kind: "memquota", max_amount: maxAmount, valid_duration_ms: validMs }] }, 2);
      const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ filters: [p], tcpProxy: { cluster: "backend" } }] });
      let ok = 0;
      let limited = 0;
      const first = performance.now();
      let lastSent = first;
      const until = first + runMs;
      // Eight clients, a new connection each time: connections alternate between the two VMs.
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async () => {
        while (performance.now() < until) {
          lastSent = performance.now();
          const answer = await exchange(l.port, 1);
          if (answer.length === 3) ok++;
          else if (answer.length === 0) limited++;
          else assert.fail(`answer of ${answer.length} bytes`);
        }
      }));
      await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 10000, "connections to close");
      // Full at first use, then one token every validMs / maxAmount, from the first connection to the last.
      const expected = maxAmount + ((lastSent - first) * maxAmount) / validMs;
      t.diagnostic(`allowed ${ok}, expected ${expected.toFixed(1)}, limited ${limited}`);
      assert.ok(limited > ok / 2, `the load exceeds the quota (ok ${ok}, limited ${limited})`);
      assert.ok(Math.abs(ok - expected) <= expected * 0.05, `allowed ${ok}, expected ${expected.toFixed(1)} ± 5% (limited ${limited})`);
      assert.equal(host.counter("tcp_stats.handler.q.allowed"), BigInt(ok));
      assert.equal(host.counter("tcp_stats.handler.q.limited"), BigInt(limited));
    } finally {
      await host.close();
    }
  });
});


