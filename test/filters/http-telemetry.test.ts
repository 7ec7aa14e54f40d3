/**
 * http-telemetry end to end: real node HTTP clients → the emulated HTTP listener (the filter's
 * wasm, then the router) → a real node HTTP server. Metrics are read the way a scrape sees them:
 * the emulated Envoy's `/stats/prometheus` text with the controller's stats_tags, parsed by the
 * strict parser, compared with fixed tables of Istio's labels. Access-log lines are parsed as JSON.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Host } from "../host/index.js";
import { FilterState, type HttpFilterCallbacks, type HttpFilterFactory, type LocalReply } from "../host/types.js";
import { prometheusText, type PromStat } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { withTimeout } from "../host/fakes.js";
import { ISTIO_HTTP_LABELS, httpStatsTags } from "../../controller/telemetry/stats-tags.js";

/** Delay of the upstream's `/slow` answer. */
const SLOW_MS = 40;
const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;
const debugWasm = new URL("../../build/http-telemetry.debug.wasm", import.meta.url).pathname;

const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: { app: "ratings", version: "v1", "service.istio.io/canonical-name": "ratings", "service.istio.io/canonical-revision": "v1" },
};
const SERVICE = "ratings.bookinfo.svc.cluster.local";

/** The upstream: 200 "hello" (plus the request body's length), 404 under /missing. */
async function upstream(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => {
      if (req.url?.includes("/slow")) {
        // The answer comes SLOW_MS late: response.duration must cover it.
        setTimeout(() => res.end("slow\n"), SLOW_MS);
        return;
      }
      if (req.url?.includes("/missing")) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("no\n");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`hello ${n}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Sent {
  readonly status: number;
  readonly body: string;
}

function request(port: number, path: string, opts: { method?: string; body?: string; id?: string; agent?: http.Agent } = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: SERVICE };
    if (opts.id !== undefined) headers["x-request-id"] = opts.id;
    if (opts.body !== undefined) headers["content-length"] = String(Buffer.byteLength(opts.body));
    const req = http.request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers, agent: opts.agent ?? false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

function family(fams: Family[], name: string): Family {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `no family ${name} in ${fams.map((x) => x.name).join(", ")}`);
  return f;
}

/** Istio's labels for an inbound request to ratings-v1 from an unknown peer (istio_stats.cc ServerSidecar). */
function inbound(code: string, peer: Partial<Record<string, string>> = {}): Record<string, string> {
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
    ...peer,
  } as Record<string, string>;
}

/** Istio's metadata exchange leaves the downstream peer on the connection (istio/proxy source/extensions/common/metadata_object.h). */
const metadataExchange: HttpFilterFactory = {
  name: "istio.metadata_exchange",
  create: (cb) => ({
    decodeHeaders: () => {
      cb.streamInfo.connection.filterState.set("downstream_peer_obj", {
        value: new Uint8Array(0),
        span: "FilterChain",
        readOnly: false,
        fields: { workload: "productpage-v1", namespace: "bookinfo", cluster: "Kubernetes", service: "productpage", revision: "v1", app: "productpage", version: "v1" },
      });
      return "Continue";
    },
    decodeData: () => "Continue",
    decodeTrailers: () => "Continue",
    encodeHeaders: () => "Continue",
    encodeData: () => "Continue",
    encodeTrailers: () => "Continue",
    onStreamComplete: () => {},
    onDestroy: () => {},
  }),
};

describe("http-telemetry", () => {
  let up: Awaited<ReturnType<typeof upstream>>;

  before(async () => {
    up = await upstream();
  });
  after(async () => {
    await up.close();
  });

  async function run(
    opts: { configuration: string; nodeMetadata?: Record<string, unknown>; peer?: boolean; debug?: boolean },
    traffic: (port: number) => Promise<void>,
  ): Promise<Host> {
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: up.port }] } }, nodeMetadata: opts.nodeMetadata as never });
    const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: opts.debug ? debugWasm : wasm, rootId: "http-telemetry", vmCount: 1, configuration: opts.configuration });
    const l = await host.httpListener({ direction: "INBOUND", cluster: "backend", filters: opts.peer ? [metadataExchange, plugin] : [plugin] });
    await traffic(l.port);
    await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
    // Metric updates are batched in the VM and written on tick: flush before the scrape.
    plugin.tick();
    return host;
  }

  it("standalone Envoy: Istio's names and exact labels, parsed strictly from Envoy's Prometheus text", async () => {
    const host = await run({ configuration: "", nodeMetadata: NODE, debug: true }, async (port) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      assert.equal((await request(port, "/ok", { agent })).status, 200);
      assert.equal((await request(port, "/ok", { method: "POST", body: "x".repeat(100), agent })).body, "hello 100\n");
      assert.equal((await request(port, "/missing", { agent })).status, 404);
      agent.destroy();
    });
    try {
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() }));
      const total = family(fams, "istio_requests_total");
      assert.equal(total.type, "counter");
      assert.deepEqual(
        total.samples.map((s) => [{ ...s.labels }, s.value]),
        [[inbound("200"), 2], [inbound("404"), 1]],
      );
      assert.deepEqual(Object.keys(total.samples[0]!.labels), [...ISTIO_HTTP_LABELS], "label order");
      for (const name of ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"]) {
        const f = family(fams, name);
        assert.equal(f.type, "histogram", name);
        const counts = f.samples.filter((s) => s.name === `${name}_count`).map((s) => [s.labels.response_code, s.value]);
        assert.deepEqual(counts, [["200", 2], ["404", 1]], name);
      }
      assert.equal(family(fams, "http_telemetry_handler_prometheus_reports").samples[0]!.value, 3);
      assert.equal(family(fams, "http_telemetry_handler_prometheus_series_overflow").samples[0]!.value, 0);
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("Istio sidecar (ISTIO_VERSION set): protomesh_* beside istio.stats' own families, peer labels from metadata exchange, one scrape that parses", async () => {
    const host = await run({ configuration: "", nodeMetadata: { ...NODE, ISTIO_VERSION: "1.29.0" }, peer: true }, async (port) => {
      await request(port, "/ok");
    });
    try {
      // istio.stats' own HTTP families in the same scrape (namespace istiocustom, native tags).
      const istio: PromStat[] = [
        { name: "istiocustom.istio_requests_total", type: "counter", value: 1n, tags: [{ name: "reporter", value: "destination" }, { name: "response_code", value: "200" }] },
        { name: "istiocustom.istio_request_bytes", type: "histogram", samples: [300n], tags: [{ name: "reporter", value: "destination" }] },
      ];
      const text = prometheusText(host, { statsTags: httpStatsTags(), customNamespaces: ["wasmcustom", "istiocustom"] }, istio);
      const fams = parsePrometheusText(text);
      const ours = family(fams, "protomesh_requests_total");
      assert.deepEqual(ours.samples.map((s) => [{ ...s.labels }, s.value]), [[
        inbound("200", {
          source_workload: "productpage-v1",
          source_canonical_service: "productpage",
          source_canonical_revision: "v1",
          source_workload_namespace: "bookinfo",
          source_app: "productpage",
          source_version: "v1",
          source_cluster: "Kubernetes",
        }),
        1,
      ]]);
      assert.equal(family(fams, "istio_requests_total").samples.length, 1, "istio.stats' family alone under Istio's name");
      family(fams, "protomesh_request_bytes");
    } finally {
      await host.close();
    }
  });

  it("Istio's names beside istio.stats print two `# TYPE istio_requests_total` families: the strict parser rejects that scrape", async () => {
    const config = JSON.stringify({ handlers: [{ name: "prom", kind: "prometheus", metrics: "istio" }] });
    const host = await run({ configuration: config, nodeMetadata: { ...NODE, ISTIO_VERSION: "1.29.0" } }, async (port) => {
      await request(port, "/ok");
    });
    try {
      const istio: PromStat[] = [
        { name: "istiocustom.istio_requests_total", type: "counter", value: 1n, tags: [{ name: "reporter", value: "destination" }] },
      ];
      const text = prometheusText(host, { statsTags: httpStatsTags(), customNamespaces: ["wasmcustom", "istiocustom"] }, istio);
      assert.equal(text.match(/^# TYPE istio_requests_total counter$/gm)?.length, 2);
      assert.throws(() => parsePrometheusText(text), /second TYPE line for istio_requests_total/);
    } finally {
      await host.close();
    }
  });

  it("outbound: the upstream peer is read per request (the load balancer may pick another endpoint each time)", async () => {
    let n = 0;
    // Istio's metadata exchange learns the upstream peer from each response.
    const upstreamExchange: HttpFilterFactory = {
      name: "istio.metadata_exchange",
      create: (cb) => ({
        decodeHeaders: () => "Continue",
        decodeData: () => "Continue",
        decodeTrailers: () => "Continue",
        encodeHeaders: () => {
          const v = `v${++n}`;
          cb.streamInfo.filterState.set("upstream_peer_obj", {
            value: new Uint8Array(0),
            span: "Request",
            readOnly: false,
            fields: { workload: `reviews-${v}`, namespace: "bookinfo", cluster: "Kubernetes", service: "reviews", revision: v, app: "reviews", version: v },
          });
          return "Continue";
        },
        encodeData: () => "Continue",
        encodeTrailers: () => "Continue",
        onStreamComplete: () => {},
        onDestroy: () => {},
      }),
    };
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: up.port }] } }, nodeMetadata: NODE as never });
    try {
      const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: debugWasm, rootId: "http-telemetry", vmCount: 1, configuration: '{"handlers":[{"name":"p","kind":"prometheus","metrics":"prefixed"}]}' });
      const l = await host.httpListener({ direction: "OUTBOUND", cluster: "backend", filters: [upstreamExchange, plugin] });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      await request(l.port, "/ok", { agent });
      await request(l.port, "/ok", { agent });
      agent.destroy();
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      plugin.tick();
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() }));
      const s = family(fams, "protomesh_requests_total").samples;
      assert.deepEqual(s.map((x) => [x.labels.reporter, x.labels.source_workload, x.labels.destination_workload, x.labels.destination_canonical_revision, x.value]), [
        ["source", "ratings-v1", "reviews-v1", "v1", 1],
        ["source", "ratings-v1", "reviews-v2", "v2", 1],
      ]);
    } finally {
      await host.close();
    }
  });

  it("metric updates are batched in the VM: none before the flush, all after on_tick, the rest on shutdown (on_done)", async () => {
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: up.port }] } }, nodeMetadata: NODE as never });
    let closed = false;
    try {
      const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: debugWasm, rootId: "http-telemetry", vmCount: 1, configuration: "" });
      const l = await host.httpListener({ direction: "INBOUND", cluster: "backend", filters: [plugin] });
      const sum = (family: string, sample = family): number | undefined => {
        const f = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() })).find((x) => x.name === family);
        return f?.samples.filter((x) => x.name === sample).reduce((a, x) => a + x.value, 0);
      };
      const requestsTotal = (): number | undefined => sum("istio_requests_total");
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) assert.equal((await request(l.port, "/ok")).status, 200);
        await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      };
      await send(3);
      assert.equal(requestsTotal(), 0, "series defined, nothing written before the flush");
      assert.equal(host.counter("http_telemetry.handler.prometheus.reports"), 0n);
      plugin.tick();
      assert.equal(requestsTotal(), 3);
      assert.equal(host.counter("http_telemetry.handler.prometheus.reports"), 3n);
      for (const h of ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"]) assert.equal(sum(h, `${h}_count`), 3, h);
      await send(2);
      assert.equal(requestsTotal(), 3, "the second batch waits for the next flush");
      await host.close();
      closed = true;
      assert.equal(requestsTotal(), 5, "on_done writes what was still batched");
      assert.equal(host.counter("http_telemetry.handler.prometheus.reports"), 5n);
    } finally {
      if (!closed) await host.close();
    }
  });

  it("a full batch (4096 requests) is written by the request that finds it full, before any tick", async () => {
    const host = new Host({ nodeMetadata: NODE as never });
    try {
      const plugin = await host.loadPlugin({ name: "http-telemetry", wasm, rootId: "http-telemetry", vmCount: 1, configuration: '{"handlers":[{"name":"p","kind":"prometheus"}]}' });
      const factory = plugin.httpFilterFactory();
      const connection = {
        id: 1n, source: { host: "10.0.0.1", port: 1000 }, destination: { host: "10.0.0.2", port: 80 }, requestedServerName: "",
        listenerDirection: "INBOUND" as const, filterState: new FilterState(), filterChainName: "",
      };
      const send = (n: number): void => {
        for (let i = 0; i < n; i++) {
          const f = factory.create({
            streamInfo: { connection, filterState: new FilterState() },
            continueDecoding: () => {}, continueEncoding: () => {}, sendLocalReply: () => {},
            decodingBuffer: () => undefined, encodingBuffer: () => undefined,
          })!;
          f.decodeHeaders([[":method", "GET"], [":path", "/"], [":authority", SERVICE]], true);
          f.encodeHeaders([[":status", "200"]], true);
          f.onStreamComplete();
          f.onDestroy();
        }
      };
      const total = (): number => parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() }))
        .find((x) => x.name === "istio_requests_total")!.samples.reduce((a, x) => a + x.value, 0);
      send(4096);
      assert.equal(total(), 0);
      send(1);
      assert.equal(total(), 4096);
      plugin.tick();
      assert.equal(total(), 4097);
      assert.equal(host.counter("http_telemetry.handler.p.reports"), 4097n);
    } finally {
      await host.close();
    }
  });

  it("response.duration is Envoy's request.duration (StreamInfo::requestComplete), read once in on_log", async () => {
    const config = JSON.stringify({ handlers: [{ name: "log", kind: "accesslog", attributes: ["request.path", "response.duration"] }] });
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      await request(port, "/slow");
    });
    try {
      const [line] = host.logs.filter((e) => e.level === "info").map((e) => JSON.parse(e.message) as { "response.duration": number });
      assert.ok(line!["response.duration"] >= SLOW_MS, JSON.stringify(line));
      assert.ok(line!["response.duration"] < SLOW_MS + 5000, JSON.stringify(line));
    } finally {
      await host.close();
    }
  });

  it("gRPC: request_protocol grpc and grpc_response_status from the response trailers", async () => {
    const grpcServer = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/grpc", trailer: "grpc-status" });
        res.write(Buffer.from([0, 0, 0, 0, 0]));
        res.addTrailers({ "grpc-status": "5" });
        res.end();
      });
    });
    await new Promise<void>((r) => grpcServer.listen(0, "127.0.0.1", () => r()));
    const host = new Host({ clusters: { grpc: { endpoints: [{ host: "127.0.0.1", port: (grpcServer.address() as AddressInfo).port }] } }, nodeMetadata: NODE as never });
    try {
      const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: debugWasm, rootId: "http-telemetry", vmCount: 1, configuration: "" });
      const l = await host.httpListener({ direction: "INBOUND", cluster: "grpc", filters: [plugin] });
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: l.port, method: "POST", path: "/shop.Cart/Get", headers: { host: SERVICE, "content-type": "application/grpc", te: "trailers" }, agent: false }, (res) => {
          res.resume();
          res.on("end", resolve);
        });
        req.on("error", reject);
        req.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      plugin.tick();
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() }));
      assert.deepEqual(
        family(fams, "istio_requests_total").samples.map((x) => [{ ...x.labels }, x.value]),
        [[inbound("200", { request_protocol: "grpc", grpc_response_status: "5" }), 1]],
      );
    } finally {
      await host.close();
      await new Promise<void>((r) => grpcServer.close(() => r()));
    }
  });

  it("sends label sets beyond max_series to one overflow series and counts them", async () => {
    const config = JSON.stringify({ handlers: [{ name: "prom", kind: "prometheus", metrics: "prefixed", max_series: 1 }] });
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      await request(port, "/ok");
      await request(port, "/missing");
      await request(port, "/missing");
    });
    try {
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() }));
      assert.deepEqual(
        family(fams, "protomesh_requests_total").samples.map((s) => [s.labels.reporter, s.labels.response_code, s.value]),
        [["destination", "200", 1], ["overflow", "overflow", 2]],
      );
      assert.equal(family(fams, "http_telemetry_handler_prom_series_overflow").samples[0]!.value, 2);
    } finally {
      await host.close();
    }
  });

  it("adds configured dimensions as labels after Istio's", async () => {
    const config = JSON.stringify({ handlers: [{ name: "prom", kind: "prometheus", metrics: "prefixed", dimensions: { request_method: "request.method" } }] });
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      await request(port, "/ok", { method: "PUT", body: "a" });
    });
    try {
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags(["request_method"]) }));
      const s = family(fams, "protomesh_requests_total").samples;
      assert.deepEqual(s.map((x) => [{ ...x.labels }, x.value]), [[{ ...inbound("200"), request_method: "PUT" }, 1]]);
    } finally {
      await host.close();
    }
  });

  it("accesslog: one JSON line per request in Envoy's log, with the chosen attributes and their values", async () => {
    const config = JSON.stringify({
      handlers: [{
        name: "log", kind: "accesslog",
        attributes: ["request.id", "request.method", "request.path", "request.host", "response.code", "response.duration", "request.total_size", "response.total_size", "source.address", "destination.workload", "connection.mtls"],
      }],
    });
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      await request(port, "/ok?q=\"quoted\"", { method: "POST", body: "y".repeat(40), id: "req-1" });
      await request(port, "/missing", { id: "req-2" });
    });
    try {
      const lines = host.logs.filter((e) => e.plugin === "http-telemetry" && e.level === "info").map((e) => JSON.parse(e.message) as Record<string, unknown>);
      assert.equal(lines.length, 2);
      const [a, b] = lines as [Record<string, unknown>, Record<string, unknown>];
      assert.deepEqual(Object.keys(a), ["request.id", "request.method", "request.path", "request.host", "response.code", "response.duration", "request.total_size", "response.total_size", "source.address", "destination.workload", "connection.mtls"]);
      assert.equal(a["request.id"], "req-1");
      assert.equal(a["request.method"], "POST");
      assert.equal(a["request.path"], "/ok?q=\"quoted\"");
      assert.equal(a["request.host"], SERVICE);
      assert.equal(a["response.code"], 200);
      assert.equal(typeof a["response.duration"], "number");
      assert.ok((a["request.total_size"] as number) > 40, "headers and the 40-byte body");
      assert.ok((a["response.total_size"] as number) >= "hello 40\n".length);
      assert.match(a["source.address"] as string, /^127\.0\.0\.1:\d+$/);
      assert.equal(a["destination.workload"], "ratings-v1");
      assert.equal(a["connection.mtls"], false);
      assert.equal(b["request.id"], "req-2");
      assert.equal(b["response.code"], 404);
    } finally {
      await host.close();
    }
  });

  it("response_flags: Envoy's short codes from response.flags (UH, UF, NC), `-` for a proxied answer and for this filter's own denial", async () => {
    // A port nothing listens on: the router's connection fails (UF).
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const host = new Host({
      clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: up.port }] }, empty: { endpoints: [] }, dead: { endpoints: [{ host: "127.0.0.1", port: deadPort }] } },
      nodeMetadata: NODE as never,
    });
    try {
      const plugin = await host.loadPlugin({
        name: "http-telemetry", wasm: debugWasm, rootId: "http-telemetry", vmCount: 1,
        configuration: JSON.stringify({
          handlers: [
            { name: "prometheus", kind: "prometheus" },
            { name: "log", kind: "accesslog", attributes: ["request.path", "response.code", "response.flags"] },
            { name: "failures", kind: "accesslog", level: "warn", attributes: ["request.path", "response.flags"] },
            { name: "closed", kind: "denier", status_code: 403 },
          ],
          rules: [
            { name: "all", handlers: ["prometheus", "log"] },
            { name: "flagged", match: { "response.flags": { prefix: "U" } }, handlers: ["failures"] },
            { name: "admin", match: { "request.path": { prefix: "/admin" } }, handlers: ["closed"] },
          ],
        }),
      });
      const statuses: number[] = [];
      for (const [cluster, path] of [["backend", "/ok"], ["empty", "/uh"], ["dead", "/uf"], ["nowhere", "/nc"], ["backend", "/admin"]] as const) {
        const l = await host.httpListener({ direction: "INBOUND", cluster, filters: [plugin] });
        statuses.push((await request(l.port, path)).status);
        await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      }
      assert.deepEqual(statuses, [200, 503, 503, 503, 403]);
      plugin.tick();
      const lines = (level: string) => host.logs.filter((e) => e.plugin === "http-telemetry" && e.level === level).map((e) => JSON.parse(e.message) as Record<string, unknown>);
      assert.deepEqual(lines("info"), [
        { "request.path": "/ok", "response.code": 200, "response.flags": "-" },
        { "request.path": "/uh", "response.code": 503, "response.flags": "UH" },
        { "request.path": "/uf", "response.code": 503, "response.flags": "UF" },
        { "request.path": "/nc", "response.code": 503, "response.flags": "NC" },
        // A wasm filter's local reply sets no flag (FilterManager::sendLocalReply).
        { "request.path": "/admin", "response.code": 403, "response.flags": "-" },
      ]);
      // A rule on response.flags: only the upstream failures.
      assert.deepEqual(lines("warn"), [{ "request.path": "/uh", "response.flags": "UH" }, { "request.path": "/uf", "response.flags": "UF" }]);
      const total = family(parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags() })), "istio_requests_total");
      assert.deepEqual(
        total.samples.map((x) => [x.labels.response_code, x.labels.response_flags, x.value]),
        [["200", "-", 1], ["403", "-", 1], ["503", "NC", 1], ["503", "UF", 1], ["503", "UH", 1]],
      );
    } finally {
      await host.close();
    }
  });

  it("rules: a request feeds the handlers of every rule it matches, each handler once", async () => {
    const config = JSON.stringify({
      handlers: [{ name: "log", kind: "accesslog", attributes: ["request.path", "response.code"] }],
      rules: [
        { name: "api", match: { "request.path": { prefix: "/api/" } }, handlers: ["log"] },
        { name: "errors", match: { "response.code": { exact: 404 } }, handlers: ["log"] },
      ],
    });
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      for (const p of ["/api/a", "/other", "/missing", "/api/missing"]) await request(port, p);
    });
    try {
      const logged = host.logs.filter((e) => e.level === "info").map((e) => JSON.parse(e.message) as Record<string, unknown>);
      assert.deepEqual(logged, [
        { "request.path": "/api/a", "response.code": 200 },
        { "request.path": "/missing", "response.code": 404 },
        { "request.path": "/api/missing", "response.code": 404 },
      ]);
    } finally {
      await host.close();
    }
  });

  it("sampling: deterministic per request id and seed (FNV-1a), the rest counted as sampled out", async () => {
    const seed = 7;
    const config = JSON.stringify({ seed, handlers: [{ name: "log", kind: "accesslog", sampling: 50, attributes: ["request.id"] }] });
    const ids = Array.from({ length: 40 }, (_, i) => `req-${i}`);
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      for (const id of ids) await request(port, "/ok", { id });
    });
    try {
      const logged = host.logs.filter((e) => e.level === "info").map((e) => (JSON.parse(e.message) as Record<string, string>)["request.id"]);
      const expected = ids.filter((id) => fnvBucket(id, seed) < 50_000);
      assert.ok(expected.length > 5 && expected.length < 35, `a split, not all or none: ${expected.length}`);
      assert.deepEqual(logged, expected);
      assert.equal(host.counter("http_telemetry.handler.log.sampled_out"), BigInt(ids.length - expected.length));
    } finally {
      await host.close();
    }
  });

  it("fail open: a handler that cannot report is counted and traffic is untouched", async () => {
    const config = JSON.stringify({ handlers: [{ name: "audit", kind: "accesslog", max_line_bytes: 64, attributes: ["request.path"] }] });
    const long = "/" + "p".repeat(100);
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      for (let i = 0; i < 3; i++) assert.equal((await request(port, long)).status, 200);
    });
    try {
      assert.equal(host.counter("http_telemetry.handler.audit.failures"), 3n);
      assert.equal(host.counter("http_telemetry.handler.audit.reports"), 0n);
      assert.equal(host.logs.filter((e) => e.level === "warn").length, 1, "one warning when the handler starts failing");
    } finally {
      await host.close();
    }
  });

  it("fail closed: after a failed report the handler's requests are refused with 503 until a report succeeds", async () => {
    const config = JSON.stringify({
      handlers: [{ name: "audit", kind: "accesslog", fail_open: false, max_line_bytes: 64, attributes: ["request.path"] }],
      rules: [{ name: "audited", match: { "request.path": { prefix: "/a" } }, handlers: ["audit"] }],
    });
    const long = "/a" + "p".repeat(100);
    const seen: Sent[] = [];
    const host = await run({ configuration: config, nodeMetadata: NODE }, async (port) => {
      seen.push(await request(port, long)); // served; its report fails
      seen.push(await request(port, long)); // refused; its report fails again
      seen.push(await request(port, "/other")); // no rule feeds the handler: served
      seen.push(await request(port, "/a")); // refused, but its (short) report succeeds
      seen.push(await request(port, "/a")); // served again
    });
    try {
      assert.deepEqual(seen.map((s) => s.status), [200, 503, 200, 503, 200]);
      assert.equal(seen[1]!.body, "telemetry handler unavailable\n");
      assert.equal(host.counter("http_telemetry.fail_closed_denied"), 2n);
      assert.equal(host.counter("http_telemetry.handler.audit.failures"), 2n);
      assert.equal(host.counter("http_telemetry.handler.audit.reports"), 2n);
    } finally {
      await host.close();
    }
  });

  it("memory stays flat over 4,000 requests on 400 connections (bounded connection cache and series)", async () => {
    const host = new Host({ nodeMetadata: NODE as never });
    try {
      const config = JSON.stringify({
        max_connections: 64,
        handlers: [
          { name: "prom", kind: "prometheus", max_series: 50, dimensions: { request_path: "request.path" } },
          { name: "log", kind: "accesslog", level: "debug" },
        ],
      });
      const plugin = await host.loadPlugin({ name: "mem", wasm, rootId: "http-telemetry", vmCount: 1, configuration: config });
      const factory = plugin.httpFilterFactory();
      const one = (conn: bigint, i: number): void => {
        const cb: HttpFilterCallbacks = {
          streamInfo: {
            connection: {
              id: conn, source: { host: "10.0.0.1", port: 1000 }, destination: { host: "10.0.0.2", port: 80 }, requestedServerName: "",
              listenerDirection: "INBOUND", filterState: new FilterState(), filterChainName: "",
            },
            filterState: new FilterState(),
          },
          continueDecoding: () => {},
          continueEncoding: () => {},
          sendLocalReply: (_r: LocalReply) => {},
          decodingBuffer: () => undefined,
          encodingBuffer: () => undefined,
        };
        const f = factory.create(cb)!;
        f.decodeHeaders([[":method", "GET"], [":path", `/item/${i}`], [":authority", SERVICE], ["x-request-id", `id-${i}`]], true);
        cb.streamInfo.responseCode = 200;
        f.encodeHeaders([[":status", "200"], ["content-length", "0"]], true);
        f.onStreamComplete();
        f.onDestroy();
      };
      const run = (from: number, to: number): void => {
        for (let i = from; i < to; i++) one(BigInt(1 + Math.floor(i / 10)), i);
      };
      run(0, 1000);
      const warm = plugin.vms[0]!.memoryPages();
      run(1000, 4000);
      const end = plugin.vms[0]!.memoryPages();
      assert.ok(end <= warm + 2, `${warm} → ${end} pages`);
      plugin.tick();
      assert.equal(host.counter("mem.handler.log.reports"), undefined, "the plugin's stat prefix is the default, not its name");
      assert.equal(host.counter("http_telemetry.handler.log.reports"), 4000n);
      assert.equal(host.counter("http_telemetry.handler.prom.series_overflow"), 3950n);
    } finally {
      await host.close();
    }
  });

  it("refuses a bad configuration at plugin start, naming the field", async () => {
    const host = new Host();
    try {
      for (const [config, why] of [
        ['{"handlers": [{"name": "p", "kind": "prometheus", "metric": "istio"}]}', 'unknown field "handlers[0].metric" (known: name, kind, fail_open, sampling, metrics, max_series, dimensions)'],
        ['{"handlers": [{"name": "p", "kind": "statsd"}]}', '"handlers[0].kind" must be one of prometheus, accesslog, denier, list, memquota, otlp, found "statsd"'],
        ['{"rules": [{"name": "r", "handlers": ["nope"]}]}', '"rules[0].handlers[0]" must name a handler (prometheus), found "nope"'],
        ['{"handlers": [{"name": "l", "kind": "accesslog", "sampling": 101}]}', '"handlers[0].sampling" must be a percentage 0..100, found 101'],
        ['{"rules": [{"name": "r", "match": {"request.verb": {"exact": "GET"}}, "handlers": ["prometheus"]}]}', 'unknown field "rules[0].match.request.verb"'],
      ] as const) {
        await assert.rejects(host.loadPlugin({ name: "bad", wasm, rootId: "http-telemetry", vmCount: 1, configuration: config }));
        const line = host.logs.filter((e) => e.level === "error").at(-1)?.message ?? "";
        assert.ok(line.startsWith("http-telemetry: invalid configuration: " + why), line);
      }
    } finally {
      await host.close();
    }
  });
});

/** The filter's sampling bucket (assembly/telemetry/request.ts sampleBucket), written again here. */
function fnvBucket(id: string, seed: number): number {
  let h = 0x811c9dc5;
  const step = (b: number): void => {
    h ^= b & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (let i = 0; i < 4; i++) step(seed >>> (i * 8));
  for (let i = 0; i < id.length; i++) step(id.charCodeAt(i));
  return (h >>> 0) % 100000;
}
