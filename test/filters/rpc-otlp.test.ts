/**
 * Dubbo and Thrift calls through the telemetry engine's otlp handler: a real hessian.js consumer
 * and provider, a real Apache thrift client and server, the filter per connection before
 * tcp_proxy, and the @grpc/grpc-js collector on opentelemetry-proto's own .proto files
 * (./otlp-collector.ts): one LogRecord per call with the RPC attributes, Istio's request metrics
 * with request_protocol dubbo / thrift, equal to the calls made.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { withTimeout } from "../host/fakes.js";
import { DubboConsumer, startDubboProvider, type DubboPeer } from "../peers/dubbo.js";
import { startThriftServer, thriftClient, type ThriftPeer } from "../peers/thrift.js";
import { pairRpcTcpProxy } from "../../controller/rules/per-connection.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { attrs, eventually, otlpCollector, type Metric } from "./otlp-collector.js";

const dubboWasm = new URL("../../build/dubbo.wasm", import.meta.url).pathname;
const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;
const NODE = {
  WORKLOAD_NAME: "web-v1", NAMESPACE: "shop", CLUSTER_ID: "Kubernetes",
  LABELS: { app: "web", version: "v1", "service.istio.io/canonical-name": "web", "service.istio.io/canonical-revision": "v1" },
};
const OTLP = {
  name: "otel", kind: "otlp", cluster: "otel", flush_interval_ms: 100,
  attributes: ["request.protocol", "api.service", "api.operation", "response.code", "request.total_size"],
};

describe("RPC calls → the otlp handler", () => {
  let collector: Awaited<ReturnType<typeof otlpCollector>>;
  let provider: DubboPeer;
  let server: ThriftPeer;

  before(async () => {
    collector = await otlpCollector();
    provider = await startDubboProvider();
    server = await startThriftServer("framed-binary");
  });
  after(async () => {
    await server?.close();
    await provider?.close();
    await collector.close();
  });

  async function rig(protocol: "dubbo" | "thrift", upstreamPort: number, extra: Record<string, unknown>) {
    collector.logs.length = 0;
    collector.metrics.length = 0;
    const host = new Host({
      clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upstreamPort }] }, otel: { endpoints: [{ host: "127.0.0.1", port: collector.port }] } },
      nodeMetadata: NODE as never,
    });
    const config = { stat_prefix: protocol, ...extra, telemetry: { handlers: [OTLP] } };
    assert.deepEqual(checkConfiguration(protocol, JSON.stringify(config)), []);
    const plugin = await host.loadPlugin({ name: protocol, wasm: protocol === "dubbo" ? dubboWasm : thriftWasm, rootId: protocol, configuration: JSON.stringify(config), vmCount: 1 });
    const l = await host.tcpListener({ direction: "OUTBOUND", filterChains: [{ name: protocol, filters: [plugin], tcpProxy: { cluster: "backend", ...pairRpcTcpProxy(protocol) } }] });
    return { host, port: l.port };
  }

  const latest = (): Metric[] => collector.metrics.at(-1)?.resource_metrics[0]!.scope_metrics[0]!.metrics ?? [];
  const calls = (ms: Metric[]) => ms.find((m) => m.name === "istio_requests_total")?.sum!.data_points.reduce((s, p) => s + Number(p.as_int), 0) ?? 0;

  it("dubbo: a LogRecord per call with its interface and method, and istio_requests_total{request_protocol=dubbo}", async () => {
    const { host, port } = await rig("dubbo", provider.port, {});
    try {
      const c = await DubboConsumer.connect(port);
      try {
        await withTimeout((async () => {
          for (let i = 0; i < 3; i++) assert.equal((await c.call({ service: "com.acme.OrderService", method: "get", arg: String(i), version: "1.0.0" })).status, 20);
        })(), 5000, "dubbo calls");
      } finally {
        await c.close();
      }
      await collector.until(() => collector.records().length === 3 && calls(latest()) === 3, "3 records and 3 calls' metrics");
      for (const r of collector.records()) {
        const a = attrs(r.attributes);
        assert.deepEqual({ ...a, "request.total_size": 0 }, {
          "request.protocol": "dubbo", "api.service": "com.acme.OrderService", "api.operation": "get", "response.code": "20", "request.total_size": 0,
        });
        assert.ok((a["request.total_size"] as number) > 16, "the request frame's size, as a number");
        assert.equal(r.body.string_value, "dubbo request");
      }
      assert.equal(collector.logs[0]!.resource_logs[0]!.scope_logs[0]!.scope.name, "protomesh.dubbo");
      const point = latest()[0]!.sum!.data_points[0]!;
      assert.equal(attrs(point.attributes).request_protocol, "dubbo");
      assert.equal(attrs(point.attributes).response_code, "20");
      assert.equal(attrs(point.attributes).source_workload, "web-v1");
      await eventually(() => host.counter("dubbo.handler.otel.log_records_exported") === 3n, "the exported count");
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });

  it("thrift: a LogRecord per call and istio_requests_total{request_protocol=thrift}", async () => {
    const { host, port } = await rig("thrift", server.port, { transport: "framed", protocol: "binary" });
    try {
      const c = await thriftClient(port, "framed-binary");
      try {
        await withTimeout((async () => {
          for (let i = 0; i < 2; i++) assert.equal(await c.client.call("Orders:echo", String(i)), `echo:${i}`);
        })(), 5000, "thrift calls");
      } finally {
        c.close();
      }
      await collector.until(() => collector.records().length === 2 && calls(latest()) === 2, "2 records and 2 calls' metrics");
      for (const r of collector.records()) {
        const a = attrs(r.attributes);
        assert.equal(a["request.protocol"], "thrift");
        assert.equal(a["api.service"], "Orders");
        assert.equal(a["api.operation"], "echo");
        assert.equal(a["response.code"], "reply");
      }
      assert.equal(attrs(latest()[0]!.sum!.data_points[0]!.attributes).request_protocol, "thrift");
      assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "warn"), []);
    } finally {
      await host.close();
    }
  });
});
