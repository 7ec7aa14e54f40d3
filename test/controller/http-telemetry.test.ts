/**
 * The controller's side of http-telemetry: its schema refuses what the filter refuses, in the same
 * words (both run here on the same inputs); the standalone bootstrap is valid Envoy and, loaded
 * into the emulator as rendered (plugin configuration and stats_tags), gives Istio's names and
 * labels; the Istio WasmPlugin is an HTTP plugin in the STATS phase.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { wasmPluginConfigs } from "../../controller/envoy/wasm-configs.js";
import { httpTelemetryBootstrapProps, httpTelemetryWasmPlugin } from "../../controller/telemetry/http-telemetry.js";
import { ISTIO_HTTP_LABELS } from "../../controller/telemetry/stats-tags.js";
import { assertRefusedAlike } from "../filters/config-agreement.js";
import { Host } from "../host/index.js";
import { prometheusText } from "../host/prometheus.js";
import { parsePrometheusText } from "../host/prometheus-parse.js";
import { withTimeout } from "../host/fakes.js";

const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "protomesh-http-telemetry-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

/** Configurations the filter refuses; the controller must give the filter's own line. */
const BAD: readonly string[] = [
  '{"stat_prefix": "a=.=b"}',
  '{"seed": -1}',
  '{"max_connections": 0}',
  '{"handlers": []}',
  '{"handlers": [{"kind": "prometheus"}]}',
  '{"handlers": [{"name": "a b", "kind": "prometheus"}]}',
  '{"handlers": [{"name": "p"}]}',
  '{"handlers": [{"name": "p", "kind": "statsd"}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "metric": "istio"}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "metrics": "both"}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "max_series": 0}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"reporter": "request.method"}}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"method": "request.verb"}}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "fail_open": "yes"}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": []}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.path", "request.body"]}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "level": "loud"}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "max_line_bytes": 10}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "sampling": 101}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "dimensions": {}}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog"}, {"name": "l", "kind": "prometheus"}]}',
  '{"rules": [{"name": "r", "handlers": ["nope"]}]}',
  '{"rules": [{"handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r"}]}',
  '{"rules": [{"name": "r", "handlers": []}]}',
  '{"rules": [{"name": "r", "match": {"request.verb": {"exact": "GET"}}, "handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r", "match": {"request.path": {"glob": "/a*"}}, "handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r", "match": {"request.path": {"prefix": ""}}, "handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r", "match": {"request.path": {"present": false}}, "handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r", "match": {"request.path": {"exact": "/a", "prefix": "/"}}, "handlers": ["prometheus"]}]}',
  '{"rules": [{"name": "r", "handlers": ["log"]}], "handlers": [{"name": "p", "kind": "prometheus"}]}',
  '{"mode": "observe"}',
  '{"handlers": [{"name": "o", "kind": "otlp"}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": ""}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "batch_size": 0}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "batch_size": 10, "max_queue_size": 5}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "flush_interval_ms": 99}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "logs": false, "metrics": false}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "attributes": ["request.body"]}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "metric_names": "both"}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "max_batch": 10}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "otel", "level": "info"}]}',
];

const GOOD: readonly string[] = [
  "",
  "{}",
  '{"stat_prefix": "mesh.http", "seed": 3, "max_connections": 10}',
  '{"rules": [{"name": "api", "match": {"request.path": {"prefix": "/api"}, "response.code": {"exact": 503}}, "handlers": ["prometheus"]}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "metrics": "istio", "max_series": 5, "dimensions": {"request_method": "request.method"}},' +
    ' {"name": "l", "kind": "accesslog", "fail_open": false, "sampling": 12.5, "level": "warn", "max_line_bytes": 64, "attributes": ["request.id"]}],' +
    ' "rules": [{"name": "all", "handlers": ["p", "l"]}, {"name": "errs", "match": {"response.code": {"present": true}}, "handlers": ["l"]}]}',
  '{"handlers": [{"name": "o", "kind": "otlp", "cluster": "outbound|4317||otel.obs.svc.cluster.local", "authority": "otel.obs:4317",' +
    ' "timeout_ms": 250, "batch_size": 10, "max_queue_size": 20, "flush_interval_ms": 1000, "logs": true, "metrics": false,' +
    ' "attributes": ["request.id", "response.code"], "metric_names": "prefixed", "max_series": 10, "fail_open": false, "sampling": 50}]}',
];

describe("http-telemetry configuration: the controller refuses what the filter refuses, in its words", () => {
  it("gives the filter's error line for each bad configuration", async () => {
    const host = new Host();
    try {
      for (const config of BAD) await assertRefusedAlike(host, "http-telemetry", wasm, config);
    } finally {
      await host.close();
    }
  });

  it("accepts what the filter accepts", async () => {
    const host = new Host();
    try {
      for (const config of GOOD) {
        assert.deepEqual(checkConfiguration("http-telemetry", config), [], config);
        await host.loadPlugin({ name: `ok${GOOD.indexOf(config)}`, wasm, rootId: "http-telemetry", vmCount: 1, configuration: config });
      }
      assert.deepEqual(host.logs.filter((e) => e.level === "error"), []);
    } finally {
      await host.close();
    }
  });
});

describe("http-telemetry standalone Envoy", () => {
  const configuration = { handlers: [{ name: "prom", kind: "prometheus", dimensions: { request_method: "request.method" } }] };

  it("renders a valid bootstrap: the wasm HTTP filter before the router, stats_tags for Istio's labels and the dimensions", () => {
    const cfg = bootstrap(httpTelemetryBootstrapProps({ configuration })) as any;
    const hcm = cfg.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    assert.deepEqual(hcm.http_filters.map((f: any) => f.name), ["envoy.filters.http.wasm", "envoy.filters.http.router"]);
    assert.equal(hcm.http_filters[0].typed_config.config.root_id, "http-telemetry");
    assert.equal(hcm.http_filters[0].typed_config.config.fail_open, true);
    assert.deepEqual(cfg.stats_config.stats_tags.map((t: any) => t.tag_name), [...ISTIO_HTTP_LABELS, "request_method"]);
    const [plugin] = wasmPluginConfigs(cfg);
    assert.equal(plugin?.rootId, "http-telemetry");
    assert.deepEqual(JSON.parse(plugin!.configuration!), configuration);
  });

  it("runs as rendered in the emulator: Istio's names and labels in the strictly parsed scrape", async () => {
    const cfg = bootstrap(httpTelemetryBootstrapProps({ configuration })) as any;
    const [plugin] = wasmPluginConfigs(cfg);
    const statsTags = cfg.stats_config.stats_tags.map((t: any) => ({ tagName: t.tag_name, regex: t.regex }));
    const upstream = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const host = new Host({ clusters: { upstream: { endpoints: [{ host: "127.0.0.1", port: (upstream.address() as AddressInfo).port }] } } });
    try {
      const p = await host.loadPlugin({ name: plugin!.name, wasm, rootId: plugin!.rootId, vmCount: 2, configuration: plugin!.configuration });
      const l = await host.httpListener({ cluster: "upstream", filters: [p], direction: "OUTBOUND" });
      for (const method of ["GET", "DELETE"]) {
        await new Promise<void>((resolve, reject) => {
          http.request({ host: "127.0.0.1", port: l.port, method, path: "/", headers: { host: "web.shop:8080" }, agent: false }, (res) => {
            res.resume();
            res.on("end", resolve);
          }).on("error", reject).end();
        });
      }
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      p.tick(); // metric updates are batched in the VM until on_tick
      const fams = parsePrometheusText(prometheusText(host, { statsTags }));
      const total = fams.find((f) => f.name === "istio_requests_total");
      assert.ok(total, "istio_requests_total: no Istio node metadata, so `auto` takes Istio's names");
      // Outbound (reporter source) from a proxy without Istio metadata: istio_stats.cc ClientSidecar.
      const outbound = (method: string): Record<string, string> => ({
        reporter: "source", source_workload: "", source_canonical_service: "", source_canonical_revision: "", source_workload_namespace: "",
        source_principal: "unknown", source_app: "", source_version: "", source_cluster: "", destination_workload: "unknown",
        destination_workload_namespace: "unknown", destination_principal: "unknown", destination_app: "unknown", destination_version: "unknown",
        destination_service: "web.shop:8080", destination_canonical_service: "unknown", destination_canonical_revision: "latest",
        destination_service_name: "web.shop:8080", destination_service_namespace: "unknown", destination_cluster: "unknown",
        request_protocol: "http", response_code: "200", grpc_response_status: "", response_flags: "-", connection_security_policy: "unknown",
        request_method: method,
      });
      assert.deepEqual(total.samples.map((s) => [{ ...s.labels }, s.value]), [[outbound("DELETE"), 1], [outbound("GET"), 1]]);
    } finally {
      await host.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it("CLI: render http-telemetry envoy writes a bootstrap `validate` accepts; a bad configuration exits 1 in the filter's words", async () => {
    const r = await cli("render", "http-telemetry", "envoy", "--configuration", JSON.stringify(configuration), "--upstream", "web:8080");
    assert.equal(r.code, 0, r.err);
    const file = join(dir, "http-telemetry.yaml");
    writeFileSync(file, r.out);
    const v = await cli("validate", file);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /valid Envoy bootstrap/);
    const bad = await cli("render", "http-telemetry", "envoy", "--configuration", '{"handlers":[{"name":"p","kind":"prometheus","metric":"istio"}]}');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /http-telemetry: invalid configuration: unknown field "handlers\[0\]\.metric"/);
  });
});

describe("http-telemetry with otlp handlers", () => {
  const otlp = { handlers: [{ name: "otel", kind: "otlp", cluster: "otel_collector" }, { name: "audit", kind: "otlp", cluster: "audit_collector", metrics: false }] };

  it("CLI: render http-telemetry envoy adds an HTTP/2 cluster per otlp handler's cluster, to --otlp-collector; validate accepts it", async () => {
    const r = await cli("render", "http-telemetry", "envoy", "--configuration", JSON.stringify(otlp), "--otlp-collector", "10.1.2.3:4317");
    assert.equal(r.code, 0, r.err);
    const doc = parse(r.out);
    const clusters = doc.static_resources.clusters as any[];
    assert.deepEqual(clusters.map((c) => c.name), ["upstream", "audit_collector", "otel_collector"]);
    for (const c of clusters.slice(1)) {
      assert.equal(c.type, "STATIC");
      assert.deepEqual(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: "10.1.2.3", port_value: 4317 });
      assert.deepEqual(c.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config, { http2_protocol_options: {} });
    }
    const file = join(dir, "http-telemetry-otlp.yaml");
    writeFileSync(file, r.out);
    const v = await cli("validate", file);
    assert.equal(v.code, 0, v.err);
  });

  it("CLI: render http-telemetry istio notes the collector clusters istiod must build", async () => {
    const r = await cli("render", "http-telemetry", "istio", "--configuration", JSON.stringify(otlp));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /OTLP export goes to the clusters "audit_collector", "otel_collector"/);
    assert.match(r.out, /ServiceEntry/);
    const plain = await cli("render", "http-telemetry", "istio");
    assert.doesNotMatch(plain.out, /OTLP/);
  });
});

describe("http-telemetry on Istio", () => {
  it("renders an HTTP WasmPlugin in the STATS phase, both sides by default, failing open", () => {
    const r = httpTelemetryWasmPlugin({ namespace: "shop", workloadLabels: { app: "web" }, ports: [8080] }) as any;
    assert.equal(r.kind, "WasmPlugin");
    assert.equal(r.spec.type, "HTTP");
    assert.equal(r.spec.phase, "STATS");
    assert.equal(r.spec.failStrategy, "FAIL_OPEN");
    assert.equal(r.spec.pluginName, "http-telemetry");
    assert.deepEqual(r.spec.match, [{ mode: "CLIENT_AND_SERVER", ports: [{ number: 8080 }] }]);
    assert.equal(r.spec.pluginConfig, undefined, "an empty configuration is left out");
    assert.throws(() => httpTelemetryWasmPlugin({ configuration: { handlers: [] } }), /http-telemetry: invalid configuration: "handlers" needs at least one handler/);
    assert.throws(() => httpTelemetryWasmPlugin({ url: "https://example.com/x.wasm" }), /give sha256/);
  });

  it("CLI: the header names the pod annotations the labels need", async () => {
    const r = await cli("render", "http-telemetry", "istio", "--mode", "SERVER", "--configuration", '{"handlers":[{"name":"p","kind":"prometheus","dimensions":{"request_method":"request.method"}}]}');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /sidecar\.istio\.io\/extraStatTags: "reporter,source_workload,.*,connection_security_policy,request_method"/);
    assert.match(r.out, /sidecar\.istio\.io\/statsInclusionPrefixes: "wasmcustom"/);
    const doc = parse(r.out);
    assert.equal(doc.spec.match[0].mode, "SERVER");
    assert.deepEqual(doc.spec.pluginConfig.handlers[0].dimensions, { request_method: "request.method" });
  });
});
