/**
 * `request.headers.<name>` telemetry attributes through the built filters with real peers: an HTTP
 * request header as a Prometheus dimension and in the access log, a Dubbo attachment as a dimension
 * (with rules that read no attachment: the filter decodes them only for telemetry), a THeader
 * header, and a framed Thrift call (no headers: the value is empty). Envoy's Prometheus text is
 * parsed strictly. Bad configurations: the filter's log line and the controller's words agree.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Host } from "../host/index.js";
import { assertRefusedAlike } from "./config-agreement.js";
import { withTimeout } from "../host/fakes.js";
import { prometheusText } from "../host/prometheus.js";
import { parsePrometheusText, type Family } from "../host/prometheus-parse.js";
import { DubboConsumer, startDubboProvider, type DubboPeer } from "../peers/dubbo.js";
import { startThriftServer, thriftClient, type ThriftPeer } from "../peers/thrift.js";
import { httpStatsTags } from "../../controller/telemetry/stats-tags.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { pairRpcTcpProxy } from "../../controller/rules/per-connection.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";

const build = (name: string): string => new URL(`../../build/${name}.wasm`, import.meta.url).pathname;

function samples(fams: Family[], name: string): Array<Record<string, string>> {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `no family ${name} in ${fams.map((x) => x.name).join(", ")}`);
  return f.samples.map((s) => ({ ...s.labels, value: String(s.value) }));
}

function accessLog(host: Host): Array<Record<string, unknown>> {
  return host.logs.filter((e) => e.message.startsWith("{")).map((e) => JSON.parse(e.message) as Record<string, unknown>);
}

describe("request.headers.<name> attributes", () => {
  it("HTTP: a request header as a Prometheus dimension, a rule match and an access log attribute", async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok\n"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: (server.address() as AddressInfo).port }] } } });
    try {
      const config = JSON.stringify({
        handlers: [
          { name: "prom", kind: "prometheus", metrics: "prefixed", dimensions: { tenant: "request.headers.x-tenant" } },
          { name: "log", kind: "accesslog", attributes: ["request.path", "request.headers.x-tenant", "request.headers.x-b3-traceid"] },
        ],
        rules: [
          { name: "all", handlers: ["prom"] },
          { name: "tenants", match: { "request.headers.x-tenant": { present: true } }, handlers: ["log"] },
        ],
      });
      assert.deepEqual(checkConfiguration("http-telemetry", config), []);
      const plugin = await host.loadPlugin({ name: "http-telemetry", wasm: build("http-telemetry"), rootId: "http-telemetry", vmCount: 1, configuration: config });
      const l = await host.httpListener({ direction: "INBOUND", cluster: "backend", filters: [plugin] });
      const send = (path: string, headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: l.port, path, headers, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
      const long = "t".repeat(300);
      await withTimeout((async () => {
        assert.equal(await send("/a", { "X-Tenant": "acme", "x-b3-traceid": "abc" }), 200);
        assert.equal(await send("/b", { "x-tenant": "acme" }), 200);
        assert.equal(await send("/c", { "x-tenant": "semi;colon" }), 200);
        assert.equal(await send("/d", { "x-tenant": long }), 200);
        assert.equal(await send("/e", {}), 200);
      })(), 5000, "http requests");
      await withTimeout(Promise.all(l.requests.map((r) => r.completed)), 5000, "requests to complete");
      plugin.tick();
      const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags(["tenant"]) }));
      const byTenant = samples(fams, "protomesh_requests_total").map((s) => [s.tenant, s.value]).sort();
      // Values are cut at 128 characters and `;` becomes `_`, as every label value is.
      assert.deepEqual(byTenant, [["", "1"], ["acme", "2"], ["semi_colon", "1"], ["t".repeat(128), "1"]]);
      const log = accessLog(host);
      assert.deepEqual(log.map((x) => Object.keys(x)), Array(4).fill(["request.path", "request.headers.x-tenant", "request.headers.x-b3-traceid"]));
      assert.deepEqual(log.map((x) => [x["request.path"], x["request.headers.x-tenant"], x["request.headers.x-b3-traceid"]]), [
        ["/a", "acme", "abc"], ["/b", "acme", ""], ["/c", "semi;colon", ""], ["/d", "t".repeat(128), ""],
      ]);
    } finally {
      await host.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  describe("Dubbo", () => {
    let provider: DubboPeer;
    before(async () => {
      provider = await startDubboProvider();
    });
    after(async () => {
      await provider?.close();
    });

    it("an attachment as a dimension, with rules that read no attachment", async () => {
      const host = new Host();
      try {
        host.addCluster("orders", { endpoints: [{ host: "127.0.0.1", port: provider.port }] });
        host.addCluster("dubbo-default", { endpoints: [{ host: "127.0.0.1", port: provider.port }] });
        const config = {
          stat_prefix: "dubbo", routing: "connection", seed: 1,
          rules: [{ name: "orders", match: { service: { exact: "com.acme.OrderService" } }, route: { cluster: "orders" } }],
          telemetry: {
            handlers: [
              { name: "prom", kind: "prometheus", metrics: "prefixed", dimensions: { tenant: "request.headers.tenant" } },
              { name: "log", kind: "accesslog", attributes: ["api.operation", "request.headers.tenant"] },
            ],
          },
        };
        assert.deepEqual(checkConfiguration("dubbo", JSON.stringify(config)), []);
        const plugin = await host.loadPlugin({ name: "dubbo", wasm: build("dubbo"), rootId: "dubbo", configuration: JSON.stringify(config), vmCount: 1 });
        const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ name: "dubbo", filters: [plugin], tcpProxy: { cluster: "dubbo-default", ...pairRpcTcpProxy("dubbo") } }] });
        const c = await DubboConsumer.connect(l.port);
        try {
          await withTimeout((async () => {
            // Attachment keys compare in lower case, as HTTP header names do.
            assert.equal((await c.call({ service: "com.acme.OrderService", method: "get", arg: "1", attachments: { Tenant: "acme" } })).status, 20);
            assert.equal((await c.call({ service: "com.acme.OrderService", method: "get", arg: "2", attachments: { tenant: "acme" } })).status, 20);
            assert.equal((await c.call({ service: "com.acme.OrderService", method: "put", arg: "3" })).status, 20);
          })(), 5000, "dubbo calls");
        } finally {
          await c.close();
        }
        flushTelemetry(host);
        const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags(["tenant"]) }));
        assert.deepEqual(samples(fams, "protomesh_requests_total").map((s) => [s.request_protocol, s.tenant, s.value]).sort(), [["dubbo", "", "1"], ["dubbo", "acme", "2"]]);
        assert.deepEqual(accessLog(host).map((x) => [x["api.operation"], x["request.headers.tenant"]]), [["get", "acme"], ["get", "acme"], ["put", ""]]);
      } finally {
        await host.close();
      }
    });
  });

  describe("Thrift", () => {
    let header: ThriftPeer;
    let framed: ThriftPeer;
    before(async () => {
      header = await startThriftServer("header-binary");
      framed = await startThriftServer("framed-binary");
    });
    after(async () => {
      header?.close();
      framed?.close();
    });

    for (const [transport, stack] of [["header", "header-binary"], ["framed", "framed-binary"]] as const) {
      it(`${transport}: ${transport === "header" ? "a THeader header as a dimension and in the access log" : "no headers: the attribute is empty"}`, async () => {
        const server = transport === "header" ? header : framed;
        const host = new Host();
        try {
          host.addCluster("fallback", { endpoints: [{ host: "127.0.0.1", port: server.port }] });
          const config = {
            stat_prefix: "thrift", routing: "connection", transport, protocol: "binary", seed: 1, rules: [],
            telemetry: {
              handlers: [
                { name: "prom", kind: "prometheus", metrics: "prefixed", dimensions: { tenant: "request.headers.x-tenant" } },
                { name: "log", kind: "accesslog", attributes: ["api.operation", "request.headers.x-tenant"] },
              ],
            },
          };
          assert.deepEqual(checkConfiguration("thrift", JSON.stringify(config)), []);
          const plugin = await host.loadPlugin({ name: "thrift", wasm: build("thrift"), rootId: "thrift", configuration: JSON.stringify(config), vmCount: 1 });
          const l = await host.tcpListener({ direction: "INBOUND", filterChains: [{ name: "thrift", filters: [plugin], tcpProxy: { cluster: "fallback", ...pairRpcTcpProxy("thrift") } }] });
          const c = await thriftClient(l.port, stack);
          try {
            if (transport === "header") (c.client.output as unknown as { setWriteHeader(k: string, v: string): void }).setWriteHeader("X-Tenant", "blue");
            assert.equal(await withTimeout(c.client.call("echo", "a"), 5000, "thrift call"), "echo:a");
            assert.equal(await withTimeout(c.client.call("echo", "b"), 5000, "thrift call"), "echo:b");
          } finally {
            c.close();
          }
          flushTelemetry(host);
          const want = transport === "header" ? "blue" : "";
          const fams = parsePrometheusText(prometheusText(host, { statsTags: httpStatsTags(["tenant"]) }));
          assert.deepEqual(samples(fams, "protomesh_requests_total").map((s) => [s.request_protocol, s.tenant, s.value]), [["thrift", want, "2"]]);
          assert.deepEqual(accessLog(host).map((x) => [x["api.operation"], x["request.headers.x-tenant"]]), [["echo", want], ["echo", want]]);
        } finally {
          await host.close();
        }
      });
    }
  });

  it("bad configurations: the filter refuses them with the controller's words, naming the field", async () => {
    const nine = Array.from({ length: 9 }, (_, i) => `request.headers.h${i}`);
    const cases: Array<["http-telemetry" | "tcp-stats" | "dubbo", string, string]> = [
      ["http-telemetry", '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.headers.X-Tenant"]}]}',
        '"handlers[0].attributes[0]" must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters, found "request.headers.X-Tenant"'],
      ["http-telemetry", '{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"t": "request.headers."}}]}',
        '"handlers[0].dimensions.t" must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters, found "request.headers."'],
      ["http-telemetry", '{"rules": [{"name": "r", "match": {"request.headers.a b": {"present": true}}, "handlers": ["prometheus"]}]}',
        '"rules[0].match.request.headers.a b" must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters'],
      ["http-telemetry", JSON.stringify({ handlers: [{ name: "l", kind: "accesslog", attributes: nine }] }),
        '"handlers[0].attributes[8]" is one header attribute too many: a configuration names at most 8 (and a VM 64 over its reconfigurations)'],
      ["http-telemetry", '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.header.x"]}]}',
        '"handlers[0].attributes[0]" must be an attribute name ('],
      ["tcp-stats", '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["source.address", "request.headers.x-tenant"]}]}',
        '"handlers[0].attributes[1]" names a request.headers attribute, but a TCP connection has no headers (use the http-telemetry, dubbo or thrift filter)'],
      ["tcp-stats", '{"rules": [{"name": "r", "match": {"request.headers.x": {"present": true}}, "handlers": ["prometheus"]}]}',
        '"rules[0].match.request.headers.x" names a request.headers attribute, but a TCP connection has no headers (use the http-telemetry, dubbo or thrift filter)'],
      ["dubbo", '{"telemetry": {"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.headers.Tenant"]}]}}',
        '"telemetry.handlers[0].attributes[0]" must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters, found "request.headers.Tenant"'],
    ];
    const host = new Host();
    try {
      for (const [filter, config, why] of cases) {
        const logged = await assertRefusedAlike(host, filter, build(filter), config);
        assert.ok(logged.startsWith(`${filter}: invalid configuration: ${why}`), `${config}\n${logged}`);
      }
    } finally {
      await host.close();
    }
  });
});
