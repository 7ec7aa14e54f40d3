/**
 * The thrift filter's delay fault, decode timeout, unframed transport and lax binary protocol, and
 * the per-request weighted split, end to end: real Apache thrift clients → host TCP listener
 * [thrift wasm filter → tcp_proxy | thrift_proxy, as the controller renders them] → real Apache
 * thrift servers. Lax binary is the library's own TBinaryProtocol with strictWrite off
 * (test/peers/thrift.ts) on both sides.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { withTimeout } from "../host/fakes.js";
import { startThriftServer, taggedCounter, thriftClient, type ThriftPeer, type ThriftStack } from "../peers/thrift.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import type { LoadedRuleSet } from "../../controller/rules/load.js";
import { thriftWasmConfiguration, type ThriftWasmProtocol, type ThriftWasmTransport } from "../../controller/thrift/wasm-config.js";
import { pairRpcTcpProxy } from "../../controller/rules/per-connection.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { thriftPerRequestBootstrapProps } from "../../controller/thrift/standalone.js";
import { THRIFT_PROXY_FILTER_NAME, type ThriftProtocol, type ThriftTransport } from "../../controller/thrift/filter.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { seededRandom } from "../host/rpc-fixtures.js";
import { ThriftProxy } from "../host/thrift-proxy.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";

const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;

/** The delay of rule `slow`; long enough to stand out from loopback round trips. */
const DELAY_MS = 300;
const HALF_DELAY_MS = 150;
const DECODE_TIMEOUT_MS = 200;

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: faults }
spec:
  rules:
    - name: slow
      match: { service: { exact: Slow } }
      route: { cluster: hello }
      fault: { delay: { duration: ${DELAY_MS}ms } }
    - name: half
      match: { service: { exact: Half } }
      route: { cluster: hello }
      fault: { delay: { duration: ${HALF_DELAY_MS}ms, percent: 50 } }
    - name: orders
      match: { service: { exact: Orders } }
      route: { cluster: orders }
    - name: secret
      match: { method: { exact: secret } }
      policy: { deny: true, message: "secret calls are not allowed here" }
    - name: hello
      match: { method: { exact: hello } }
      route: { cluster: hello }
    - name: split
      match: { method: { exact: echo } }
      route: { weightedClusters: [{ name: echo-a, weight: 70 }, { name: echo-b, weight: 30 }] }
`;

const rules = (): LoadedRuleSet => parseRuleSet(RULES, "faults.yaml");

type Client = Awaited<ReturnType<typeof thriftClient>>["client"];

async function onConnection<T>(port: number, stack: ThriftStack, f: (c: Client) => Promise<T>): Promise<T> {
  const c = await thriftClient(port, stack);
  try {
    return await withTimeout(f(c.client), 10_000, `thrift ${stack} calls`);
  } finally {
    c.close();
  }
}

/** `f`'s result and how long it took, in ms. */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
}

/** Waits (bounded) until `f` holds; polls because the host offers no event for a stat change. */
async function eventually(f: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const denied = (err: Error): boolean => {
  assert.equal(err.name, "TApplicationException");
  assert.equal(err.message, "secret calls are not allowed here");
  return true;
};

interface PerConnection {
  host: Host;
  port: number;
  servers: Map<string, ThriftPeer>;
  close(): Promise<void>;
}

/** Servers for `clusters` speaking `stack`, the rendered wasm configuration before tcp_proxy. */
async function perConnection(stack: ThriftStack, transport: ThriftWasmTransport, protocol: ThriftWasmProtocol): Promise<PerConnection> {
  const servers = new Map<string, ThriftPeer>();
  for (const c of ["hello", "orders", "fallback"]) servers.set(c, await startThriftServer(stack));
  const host = new Host();
  for (const [name, s] of servers) host.addCluster(name, { endpoints: [{ host: "127.0.0.1", port: s.port }] });
  const configuration = thriftWasmConfiguration({ rules: rules(), seed: 42, transport, protocol, decodeTimeoutMs: DECODE_TIMEOUT_MS });
  const plugin = await host.loadPlugin({ name: `thrift-${stack}`, wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify(configuration), vmCount: 2 });
  const listener = await host.tcpListener({
    filterChains: [{ name: "thrift", filters: [plugin], tcpProxy: { cluster: "fallback", ...pairRpcTcpProxy("thrift") } }],
  });
  return {
    host,
    port: listener.port,
    servers,
    async close() {
      await host.close();
      await Promise.all([...servers.values()].map((s) => s.close()));
    },
  };
}

interface PerRequest extends PerConnection {
  proxy: ThriftProxy;
}

/** The rendered per-request bootstrap: wasm filter → thrift_proxy, both with the wire format given. */
async function perRequest(stack: ThriftStack, transport: ThriftTransport, protocol: ThriftProtocol): Promise<PerRequest> {
  const servers = new Map<string, ThriftPeer>();
  for (const c of ["hello", "orders", "echo-a", "echo-b"]) servers.set(c, await startThriftServer(stack));
  const endpoints: Record<string, { address: string; port: number }[]> = {};
  for (const [name, p] of servers) endpoints[name] = [{ address: "127.0.0.1", port: p.port }];
  const wasmTransport = transport.toLowerCase() as ThriftWasmTransport;
  const wasmProtocol = protocol.toLowerCase() as ThriftWasmProtocol;
  const { props } = thriftPerRequestBootstrapProps({
    rules: rules(), endpoints, listenPort: 0, seed: 5, proxyTransport: transport, proxyProtocol: protocol, transport: wasmTransport, protocol: wasmProtocol,
  });
  const rendered = bootstrap(props);
  const host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
  const chain = (((rendered.static_resources as Record<string, unknown>).listeners as Record<string, unknown>[])[0]!.filter_chains as Record<string, unknown>[])[0]!;
  const wasm = (chain.filters as Record<string, unknown>[])[0]!;
  const configuration = (((wasm.typed_config as Record<string, unknown>).config as Record<string, unknown>).configuration as Record<string, unknown>).value as string;
  assert.equal(JSON.parse(configuration).routing, "request");
  const plugin = await host.loadPlugin({ name: `thrift-rq-${stack}`, wasm: thriftWasm, rootId: "thrift", configuration, vmCount: 2 });
  const proxy = new ThriftProxy(renderedTerminal(rendered, THRIFT_PROXY_FILTER_NAME), host, { random: seededRandom(11) });
  const listener = await host.tcpListener({ filterChains: [{ name: "thrift", filters: [plugin], tcpProxy: {}, terminal: proxy.terminal }] });
  return {
    host,
    proxy,
    port: listener.port,
    servers,
    async close() {
      await host.close();
      await proxy.close();
      await Promise.all([...servers.values()].map((s) => s.close()));
    },
  };
}

/** A counter after the filter's batched metric updates are written. */
function counter(host: Host, name: string, tags: Record<string, string> = {}): bigint {
  flushTelemetry(host);
  return taggedCounter(host, name, tags);
}

const DI = { request_protocol: "thrift", destination_service: "hello", response_code: "reply", response_flags: "DI" };
const PLAIN = { request_protocol: "thrift", destination_service: "hello", response_code: "reply", response_flags: "-" };

describe("thrift delay fault and decode timeout per connection (tcp_proxy)", () => {
  let d: PerConnection;
  before(async () => {
    d = await perConnection("framed-binary", "auto", "auto");
  });
  after(() => d?.close());

  it("holds a matching call at least the delay, and the calls behind it on the connection in order", async () => {
    const hello = d.servers.get("hello")!;
    const n0 = hello.names.length;
    const di0 = counter(d.host, "istio_requests_total", DI);
    const plain0 = counter(d.host, "istio_requests_total", PLAIN);
    await onConnection(d.port, "framed-binary", async (c) => {
      // Written back to back: the second call is read while the first is held.
      const t0 = performance.now();
      const first = c.call("Slow:echo", "1").then((v) => ({ v, ms: performance.now() - t0 }));
      const second = c.call("hello", "2").then((v) => ({ v, ms: performance.now() - t0 }));
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.v, "echo:1");
      assert.equal(b.v, "hello:2");
      assert.ok(a.ms >= DELAY_MS, `delayed call answered after ${a.ms.toFixed(0)} ms`);
      assert.ok(b.ms >= DELAY_MS, `the call behind it answered after ${b.ms.toFixed(0)} ms`);
    });
    assert.deepEqual(hello.names.slice(n0), ["Slow:echo", "hello"]);
    assert.equal(counter(d.host, "istio_requests_total", DI) - di0, 1n);
    assert.equal(counter(d.host, "istio_requests_total", PLAIN) - plain0, 1n);
  });

  it("delays a later matching call on a routed connection, not the calls before it", async () => {
    await onConnection(d.port, "framed-binary", async (c) => {
      const fast = await timed(() => c.call("hello", "a"));
      assert.equal(fast.value, "hello:a");
      const slow = await timed(() => c.call("Slow:echo", "b"));
      assert.equal(slow.value, "echo:b");
      assert.ok(slow.ms >= DELAY_MS, `delayed call answered after ${slow.ms.toFixed(0)} ms`);
      assert.ok(fast.ms < slow.ms, `undelayed ${fast.ms.toFixed(0)} ms vs delayed ${slow.ms.toFixed(0)} ms`);
    });
  });

  it("delays only `percent` of the matching calls, and counts each call once", async () => {
    const di0 = counter(d.host, "istio_requests_total", DI);
    const plain0 = counter(d.host, "istio_requests_total", PLAIN);
    const n = 100;
    const times: number[] = [];
    for (let i = 0; i < n; i += 25) {
      const batch = await Promise.all(Array.from({ length: 25 }, (_, k) => onConnection(d.port, "framed-binary", (c) => timed(() => c.call("Half:echo", String(i + k))))));
      for (const r of batch) times.push(r.ms);
    }
    const delayed = Number(counter(d.host, "istio_requests_total", DI) - di0);
    const plain = Number(counter(d.host, "istio_requests_total", PLAIN) - plain0);
    assert.equal(delayed + plain, n);
    assert.ok(delayed >= 30 && delayed <= 70, `${delayed} of ${n} delayed at 50%`);
    assert.ok(times.filter((t) => t >= HALF_DELAY_MS).length >= delayed, `${delayed} delayed, answers ≥ ${HALF_DELAY_MS} ms: ${times.filter((t) => t >= HALF_DELAY_MS).length}`);
  });

  it("sends a connection without a message begin within decode_timeout_ms to tcp_proxy's own cluster, and counts it", async () => {
    const timeouts0 = taggedCounter(d.host, "decode_timeouts_total");
    const fallback = d.servers.get("fallback")!;
    const hello = d.servers.get("hello")!;
    const f0 = fallback.names.length;
    const h0 = hello.names.length;
    const c = await thriftClient(d.port, "framed-binary");
    try {
      await eventually(() => taggedCounter(d.host, "decode_timeouts_total") > timeouts0, "decode timeout");
      // The rules would send `hello` to the hello cluster; the connection already went to tcp_proxy's.
      assert.equal(await withTimeout(c.client.call("hello", "late"), 5000, "call after the timeout"), "hello:late");
    } finally {
      c.close();
    }
    assert.deepEqual(fallback.names.slice(f0), ["hello"]);
    assert.equal(hello.names.length, h0);
    assert.equal(taggedCounter(d.host, "decode_timeouts_total") - timeouts0, 1n);
  });
});

describe("thrift delay fault per request (in front of thrift_proxy)", () => {
  let d: PerRequest;
  before(async () => {
    d = await perRequest("framed-binary", "FRAMED", "BINARY");
  });
  after(() => d?.close());

  it("holds a matching call and the calls behind it, in order, each reaching its own server", async () => {
    const hello = d.servers.get("hello")!;
    const orders = d.servers.get("orders")!;
    const h0 = hello.names.length;
    const o0 = orders.names.length;
    const di0 = counter(d.host, "istio_requests_total", DI);
    await onConnection(d.port, "framed-binary", async (c) => {
      const t0 = performance.now();
      const [a, b] = await Promise.all([
        c.call("Slow:echo", "1").then((v) => ({ v, ms: performance.now() - t0 })),
        c.call("Orders:echo", "2").then((v) => ({ v, ms: performance.now() - t0 })),
      ]);
      assert.equal(a.v, "echo:1");
      assert.equal(b.v, "echo:2");
      assert.ok(a.ms >= DELAY_MS && b.ms >= DELAY_MS, `answered after ${a.ms.toFixed(0)} / ${b.ms.toFixed(0)} ms`);
      const after = await timed(() => c.call("hello", "3"));
      assert.equal(after.value, "hello:3");
    });
    assert.deepEqual(hello.names.slice(h0), ["Slow:echo", "hello"]);
    assert.deepEqual(orders.names.slice(o0), ["Orders:echo"]);
    assert.equal(counter(d.host, "istio_requests_total", DI) - di0, 1n);
  });

  it("splits requests 70/30 within ±3% over 1,000 requests on few connections (seeded)", async () => {
    const a0 = d.servers.get("echo-a")!.calls.length;
    const b0 = d.servers.get("echo-b")!.calls.length;
    const n = 1000;
    const perConnectionCalls = 100;
    await Promise.all(Array.from({ length: n / perConnectionCalls }, (_, k) =>
      onConnection(d.port, "framed-binary", async (c) => {
        for (let i = 0; i < perConnectionCalls; i += 20) {
          await Promise.all(Array.from({ length: 20 }, (_, j) => c.call("echo", `${k}-${i + j}`)));
        }
      })));
    const a = d.servers.get("echo-a")!.calls.length - a0;
    const b = d.servers.get("echo-b")!.calls.length - b0;
    assert.equal(a + b, n);
    assert.ok(Math.abs(a / n - 0.7) <= 0.03, `echo-a got ${a} of ${n}`);
  });
});

describe("thrift unframed transport and lax binary protocol with real Apache thrift peers", () => {
  const stacks: Array<{ stack: ThriftStack; transport: ThriftWasmTransport; protocol: ThriftWasmProtocol; proxy: [ThriftTransport, ThriftProtocol] }> = [
    { stack: "buffered-binary", transport: "auto", protocol: "auto", proxy: ["UNFRAMED", "BINARY"] },
    { stack: "buffered-lax", transport: "unframed", protocol: "lax_binary", proxy: ["UNFRAMED", "LAX_BINARY"] },
    { stack: "framed-lax", transport: "framed", protocol: "lax_binary", proxy: ["FRAMED", "LAX_BINARY"] },
  ];

  for (const s of stacks) {
    it(`${s.stack} per connection: routes, denies with our message in the client's format, delays, counts`, async () => {
      const d = await perConnection(s.stack, s.transport, s.protocol);
      try {
        const hello = d.servers.get("hello")!;
        await onConnection(d.port, s.stack, async (c) => {
          assert.equal(await c.call("hello", "1"), "hello:1");
          await assert.rejects(c.call("secret", "2"), denied);
          const slow = await timed(() => c.call("Slow:echo", "3"));
          assert.equal(slow.value, "echo:3");
          assert.ok(slow.ms >= DELAY_MS, `delayed call answered after ${slow.ms.toFixed(0)} ms`);
          assert.equal(await c.call("hello", "4"), "hello:4");
        });
        assert.deepEqual(hello.names, ["hello", "Slow:echo", "hello"]);
        assert.equal(counter(d.host, "istio_requests_total", PLAIN), 2n);
        assert.equal(counter(d.host, "istio_requests_total", DI), 1n);
        assert.equal(counter(d.host, "istio_requests_total", { response_flags: "UAEX" }), 1n);
        assert.equal(taggedCounter(d.host, "decode_errors_total"), 0n);
      } finally {
        await d.close();
      }
    });

    it(`${s.stack} per request (thrift_proxy ${s.proxy.join("/")}): calls reach their servers, a denied one gets our message`, async () => {
      const d = await perRequest(s.stack, ...s.proxy);
      try {
        await onConnection(d.port, s.stack, async (c) => {
          assert.equal(await c.call("hello", "1"), "hello:1");
          assert.equal(await c.call("Orders:echo", "2"), "echo:2");
          await assert.rejects(c.call("secret", "3"), denied);
        });
        assert.deepEqual(d.servers.get("hello")!.names, ["hello"]);
        assert.deepEqual(d.servers.get("orders")!.names, ["Orders:echo"]);
        assert.equal(counter(d.host, "istio_requests_total", PLAIN), 1n);
        assert.equal(taggedCounter(d.host, "decode_errors_total"), 0n);
      } finally {
        await d.close();
      }
    });
  }
});
