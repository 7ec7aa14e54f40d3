/**
 * The thrift filter per connection, end to end: real Apache thrift clients → host TCP listener
 * [thrift wasm filter → tcp_proxy paired as the controller renders it] → real Apache thrift
 * servers, with the plugin configuration the controller renders from one rule set.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";
import { withTimeout } from "../host/fakes.js";
import { startThriftServer, taggedCounter, thriftClient, type ThriftPeer } from "../peers/thrift.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { thriftWasmConfiguration } from "../../controller/thrift/wasm-config.js";
import { pairRpcTcpProxy } from "../../controller/rules/per-connection.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { thriftPerRequestBootstrapProps } from "../../controller/thrift/standalone.js";
import { THRIFT_PROXY_FILTER_NAME } from "../../controller/thrift/filter.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { seededRandom } from "../host/rpc-fixtures.js";
import { ThriftProxy } from "../host/thrift-proxy.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";

const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: catalog }
spec:
  rules:
    - name: orders
      match: { service: { exact: Orders } }
      route: { cluster: orders }
    - name: compact-drop
      match: { service: { exact: Compact }, method: { exact: drop } }
      policy: { deny: true, message: "drop is refused" }
    - name: compact
      match: { service: { exact: Compact } }
      route: { cluster: compact }
    - name: limited
      match: { service: { exact: Limited } }
      route: { cluster: hello }
      policy: { rateLimit: { tokens: 2, interval: 1m } }
    - name: flaky
      match: { service: { exact: Flaky } }
      route: { cluster: hello }
      fault: { abort: { message: "injected by a fault rule", percent: 100 } }
    - name: secret
      match: { method: { exact: secret } }
      policy: { deny: true, message: "secret calls are not allowed here" }
    - name: blue-tenant
      match: { headers: [{ name: X-Tenant, exact: blue }] }
      route: { cluster: blue }
    - name: hello
      match: { method: { exact: hello } }
      route: { cluster: hello }
    - name: split
      match: { method: { exact: echo } }
      route: { weightedClusters: [{ name: echo-a, weight: 70 }, { name: echo-b, weight: 30 }] }
`;

const CLUSTERS = ["orders", "hello", "echo-a", "echo-b", "fallback"] as const;
/** THeader (binary) servers: the filter detects the transport per connection (transport auto). */
const HEADER_CLUSTERS = ["blue"] as const;
/** Framed compact servers. */
const COMPACT_CLUSTERS = ["compact"] as const;

/** A counter after the filter's batched metric updates are written. */
function counter(host: Host, name: string, tags: Record<string, string> = {}): bigint {
  flushTelemetry(host);
  return taggedCounter(host, name, tags);
}

describe("thrift filter per connection (tcp_proxy) with real Apache thrift peers", () => {
  const servers = new Map<string, ThriftPeer>();
  let host: Host;
  let plugin: Plugin;
  let port = 0;

  before(async () => {
    for (const c of CLUSTERS) servers.set(c, await startThriftServer("framed-binary"));
    for (const c of HEADER_CLUSTERS) servers.set(c, await startThriftServer("header-binary"));
    for (const c of COMPACT_CLUSTERS) servers.set(c, await startThriftServer("framed-compact"));
    host = new Host();
    for (const [name, s] of servers) host.addCluster(name, { endpoints: [{ host: "127.0.0.1", port: s.port }] });
    const configuration = thriftWasmConfiguration({ rules: parseRuleSet(RULES, "catalog.yaml"), seed: 42 });
    assert.deepEqual(checkConfiguration("thrift", JSON.stringify(configuration)), []);
    plugin = await host.loadPlugin({ name: "thrift", wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify(configuration), vmCount: 2 });
    const pairing = pairRpcTcpProxy("thrift");
    const listener = await host.tcpListener({
      filterChains: [{ name: "thrift", filters: [plugin], tcpProxy: { cluster: "fallback", ...pairing } }],
    });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await Promise.all([...servers.values()].map((s) => s.close()));
  });

  async function oneConnection<T>(f: (c: Awaited<ReturnType<typeof thriftClient>>["client"]) => Promise<T>): Promise<T> {
    const c = await thriftClient(port, "framed-binary");
    try {
      return await withTimeout(f(c.client), 5000, "thrift calls");
    } finally {
      c.close();
    }
  }

  it("routes a connection by its first call's method and service", async () => {
    const hello = servers.get("hello")!.calls.length;
    const orders = servers.get("orders")!.names.length;
    assert.equal(await oneConnection((c) => c.call("hello", "m")), "hello:m");
    assert.equal(await oneConnection((c) => c.call("Orders:echo", "s")), "echo:s");
    assert.equal(servers.get("hello")!.calls.length, hello + 1);
    assert.deepEqual(servers.get("orders")!.names.slice(orders), ["Orders:echo"]);
  });

  it("counts a later call for another destination as route_mismatch and keeps the connection's", async () => {
    const before = counter(host, "route_mismatch_total", {});
    const hello = servers.get("hello")!.names.length;
    await oneConnection(async (c) => {
      assert.equal(await c.call("hello", "1"), "hello:1");
      assert.equal(await c.call("Orders:echo", "2"), "echo:2");
      assert.equal(await c.call("Orders:hello", "3"), "hello:3");
    });
    assert.deepEqual(servers.get("hello")!.names.slice(hello), ["hello", "Orders:echo", "Orders:hello"]);
    assert.equal(counter(host, "route_mismatch_total", {}) - before, 2n);
  });

  it("answers a denied call with a TApplicationException carrying the rule's message, and the next call still works", async () => {
    const fallbackNames = servers.get("fallback")!.names.length;
    const deniedBefore = counter(host, "istio_requests_total", { response_flags: "UAEX" });
    await oneConnection(async (c) => {
      await assert.rejects(c.call("secret", "x"), (err: Error) => {
        assert.equal(err.name, "TApplicationException");
        assert.equal(err.message, "secret calls are not allowed here");
        return true;
      });
      assert.equal(await c.call("echo", "after"), "echo:after");
    });
    // The denied call reached the server renamed (an unknown method it answers with an exception we
    // replaced), never as `secret`: the server served only the call after it.
    assert.deepEqual(servers.get("fallback")!.names.slice(fallbackNames), ["echo"]);
    assert.equal(counter(host, "istio_requests_total", { response_flags: "UAEX" }) - deniedBefore, 1n);
  });

  it("routes by THeader header and refuses a later call with a TApplicationException in a THeader frame", async () => {
    const blue = servers.get("blue")!.names.length;
    const c = await thriftClient(port, "header-binary");
    try {
      (c.client.output as unknown as { setWriteHeader(k: string, v: string): void }).setWriteHeader("X-Tenant", "blue");
      assert.equal(await withTimeout(c.client.call("hello", "h"), 5000, "header call"), "hello:h");
      await assert.rejects(withTimeout(c.client.call("secret", "s"), 5000, "denied header call"), (err: Error) => {
        assert.equal(err.name, "TApplicationException");
        assert.equal(err.message, "secret calls are not allowed here");
        return true;
      });
      assert.equal(await withTimeout(c.client.call("hello", "again"), 5000, "header call after deny"), "hello:again");
    } finally {
      c.close();
    }
    assert.deepEqual(servers.get("blue")!.names.slice(blue), ["hello", "hello"]);
  });

  it("answers in compact protocol, rate limits (token bucket in shared data, two VMs) and aborts by fault, each with its message", async () => {
    const refused = (message: string) => (err: Error) => {
      assert.equal(err.name, "TApplicationException");
      assert.equal(err.message, message);
      return true;
    };
    const c = await thriftClient(port, "framed-compact");
    try {
      assert.equal(await withTimeout(c.client.call("Compact:echo", "c"), 5000, "compact call"), "echo:c");
      await assert.rejects(withTimeout(c.client.call("Compact:drop", "d"), 5000, "compact deny"), refused("drop is refused"));
      assert.equal(await withTimeout(c.client.call("Compact:echo", "e"), 5000, "compact after deny"), "echo:e");
    } finally {
      c.close();
    }
    const rl = counter(host, "istio_requests_total", { response_flags: "RL" });
    // Two tokens per minute for the rule, shared by both VMs: the third call on a new connection is refused.
    assert.equal(await oneConnection((k) => k.call("Limited:echo", "1")), "echo:1");
    assert.equal(await oneConnection((k) => k.call("Limited:echo", "2")), "echo:2");
    await assert.rejects(oneConnection((k) => k.call("Limited:echo", "3")), refused("rate limited by protomesh rule limited"));
    assert.equal(counter(host, "istio_requests_total", { response_flags: "RL" }) - rl, 1n);
    await assert.rejects(oneConnection((k) => k.call("Flaky:echo", "f")), refused("injected by a fault rule"));
  });

  it("splits connections 70/30 within ±3% over 1,000 connections (seeded)", async () => {
    const a0 = servers.get("echo-a")!.calls.length;
    const b0 = servers.get("echo-b")!.calls.length;
    const n = 1000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => oneConnection((c) => c.call("echo", String(i + k)))));
    }
    const a = servers.get("echo-a")!.calls.length - a0;
    const b = servers.get("echo-b")!.calls.length - b0;
    assert.equal(a + b, n);
    assert.ok(Math.abs(a / n - 0.7) <= 0.03, `echo-a got ${a} of ${n}`);
  });

  it("counts every call in istio_requests_total by destination and outcome", async () => {
    const tags = { request_protocol: "thrift", destination_service: "hello", response_code: "reply" };
    const before = counter(host, "istio_requests_total", tags);
    await oneConnection(async (c) => {
      for (let i = 0; i < 5; i++) assert.equal(await c.call("hello", String(i)), `hello:${i}`);
      await c.call("notify", "oneway", { oneway: true });
      assert.equal(await c.call("hello", "last"), "hello:last");
    });
    assert.equal(counter(host, "istio_requests_total", tags) - before, 6n);
  });
});

describe("thrift filter per request (in front of thrift_proxy) with real Apache thrift peers", () => {
  const servers = new Map<string, ThriftPeer>();
  let host: Host;
  let proxy: ThriftProxy;
  let port = 0;

  before(async () => {
    for (const c of ["orders", "hello", "echo-a", "echo-b"]) servers.set(c, await startThriftServer("framed-binary"));
    const endpoints: Record<string, { address: string; port: number }[]> = {};
    for (const [name, p] of servers) endpoints[name] = [{ address: "127.0.0.1", port: p.port }];
    const rules = parseRuleSet(RULES.replace(/    - name: blue-tenant\n.*\n.*\n/, ""), "catalog.yaml");
    const { props } = thriftPerRequestBootstrapProps({ rules, endpoints, listenPort: 0, seed: 5 });
    const rendered = bootstrap(props);
    host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
    const chain = ((((rendered.static_resources as Record<string, unknown>).listeners as Record<string, unknown>[])[0]!.filter_chains as Record<string, unknown>[])[0]!);
    const wasm = (chain.filters as Record<string, unknown>[])[0]!;
    const configuration = (((wasm.typed_config as Record<string, unknown>).config as Record<string, unknown>).configuration as Record<string, unknown>).value as string;
    assert.equal(JSON.parse(configuration).routing, "request");
    const plugin = await host.loadPlugin({ name: "thrift-per-request", wasm: thriftWasm, rootId: "thrift", configuration, vmCount: 2 });
    proxy = new ThriftProxy(renderedTerminal(rendered, THRIFT_PROXY_FILTER_NAME), host, { random: seededRandom(11) });
    const listener = await host.tcpListener({ filterChains: [{ name: "thrift", filters: [plugin], tcpProxy: {}, terminal: proxy.terminal }] });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await proxy?.close();
    await Promise.all([...servers.values()].map((s) => s.close()));
  });

  it("lets consecutive calls on one connection reach different servers, refuses a denied one with our message, and counts them", async () => {
    const hello = servers.get("hello")!.names.length;
    const orders = servers.get("orders")!.names.length;
    const tags = { request_protocol: "thrift", destination_service: "hello", response_code: "reply" };
    const replies = counter(host, "istio_requests_total", tags);
    const c = await thriftClient(port, "framed-binary");
    try {
      assert.equal(await withTimeout(c.client.call("hello", "1"), 5000, "hello"), "hello:1");
      assert.equal(await withTimeout(c.client.call("Orders:echo", "2"), 5000, "Orders:echo"), "echo:2");
      await assert.rejects(withTimeout(c.client.call("secret", "3"), 5000, "secret"), (err: Error) => {
        assert.equal(err.name, "TApplicationException");
        assert.equal(err.message, "secret calls are not allowed here");
        return true;
      });
    } finally {
      c.close();
    }
    // thrift_proxy closes the connection after its own answer to the renamed call (no route:
    // router_impl.cc, close_downstream_on_upstream_error); the client's next connection works.
    const again = await thriftClient(port, "framed-binary");
    try {
      assert.equal(await withTimeout(again.client.call("hello", "4"), 5000, "hello again"), "hello:4");
    } finally {
      again.close();
    }
    assert.deepEqual(servers.get("hello")!.names.slice(hello), ["hello", "hello"]);
    assert.deepEqual(servers.get("orders")!.names.slice(orders), ["Orders:echo"]);
    assert.equal(counter(host, "istio_requests_total", tags) - replies, 2n);
    assert.equal(counter(host, "route_mismatch_total", {}), 0n);
  });
});
