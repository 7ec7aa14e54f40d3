/**
 * The dubbo filter end to end, in both deployments, with the configs the controller renders from
 * one rule set (the standalone bootstraps: clusters, the wasm configuration, tcp_proxy's pairing,
 * dubbo_proxy's routes) and real hessian.js providers and a multiplexing consumer:
 *   consumer → host listener [dubbo wasm filter → tcp_proxy | dubbo_proxy] → providers
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { withTimeout } from "../host/fakes.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { seededRandom } from "../host/rpc-fixtures.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";
import { DubboProxy } from "../host/dubbo-proxy.js";
import type { UpstreamConnectMode } from "../host/tcp.js";
import { DubboConsumer, startDubboProvider, type DubboCall, type DubboPeer, type DubboReply } from "../peers/dubbo.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { DUBBO_PROXY_FILTER_NAME } from "../../controller/dubbo/filter.js";
import { dubboPerConnectionBootstrapProps, dubboPerRequestBootstrapProps } from "../../controller/dubbo/standalone.js";

const dubboWasm = new URL("../../build/dubbo.wasm", import.meta.url).pathname;

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: shop }
spec:
  rules:
    - name: legacy
      match: { service: { exact: com.acme.Legacy } }
      policy: { deny: true, message: "Legacy is retired; use com.acme.Admin" }
    - name: limited
      match: { service: { exact: com.acme.Limited } }
      route: { cluster: orders-v1 }
      policy: { rateLimit: { tokens: 2, interval: 1m } }
    - name: flaky
      match: { service: { exact: com.acme.Flaky } }
      route: { cluster: orders-v1 }
      fault: { abort: { message: "injected by a fault rule", percent: 100 } }
    - name: slow
      match: { service: { exact: com.acme.Slow } }
      route: { cluster: orders-v1 }
      fault: { delay: { duration: 300ms, percent: 100 } }
    - name: canary
      match: { service: { exact: com.acme.OrderService }, headers: [{ name: x-canary, exact: "1" }] }
      route: { cluster: orders-v2 }
    - name: create
      match: { service: { exact: com.acme.OrderService }, method: { exact: create } }
      route: { cluster: orders-v2 }
    - name: orders
      match: { service: { exact: com.acme.OrderService } }
      route: { cluster: orders-v1 }
    - name: split
      match: { service: { exact: com.acme.Split } }
      route: { weightedClusters: [{ name: split-a, weight: 90 }, { name: split-b, weight: 10 }] }
    - name: payments
      match: { service: { prefix: com.acme.payments. } }
      route: { cluster: payments }
`;

const PROVIDERS = ["orders-v1", "orders-v2", "split-a", "split-b", "payments"] as const;
/** Dubbo's ResponseStatus values our refusals use (assembly/filters/dubbo/config.ts). */
const SERVICE_ERROR = 70;
const THREADPOOL_EXHAUSTED = 100;
const OK = 20;

type Json = Record<string, unknown>;

function chainFilters(rendered: Json): Json[] {
  const listeners = (rendered.static_resources as Json).listeners as Json[];
  return ((listeners[0]!.filter_chains as Json[])[0]!.filters as Json[]);
}

/** The wasm filter's configuration text exactly as the bootstrap carries it. */
function wasmConfiguration(rendered: Json): string {
  const wasm = chainFilters(rendered).find((f) => f.name === "envoy.filters.network.wasm")!;
  return (((wasm.typed_config as Json).config as Json).configuration as Json).value as string;
}

function counter(host: Host, name: string, tags: Record<string, string>): bigint {
  flushTelemetry(host);
  return host
    .stats()
    .filter((s) => s.name.endsWith(name) && Object.entries(tags).every(([k, v]) => s.name.includes(`${k}=.=${v};.;`)))
    .reduce((a, s) => a + s.value, 0n);
}

async function startProviders(names: readonly string[]): Promise<Map<string, DubboPeer>> {
  const out = new Map<string, DubboPeer>();
  for (const n of names) out.set(n, await startDubboProvider());
  return out;
}

function endpointsOf(providers: Map<string, DubboPeer>): Record<string, { address: string; port: number }[]> {
  return Object.fromEntries([...providers].map(([n, p]) => [n, [{ address: "127.0.0.1", port: p.port }]]));
}

const call = (service: string, method: string, arg: string, attachments?: Record<string, string>): DubboCall => ({ service, method, arg, attachments });

/** The value of an OK response (RESPONSE_VALUE_WITH_ATTACHMENTS, value, attachments). */
function valueOf(r: DubboReply): string {
  assert.equal(r.status, OK, `status ${r.status}: ${JSON.stringify(r.values)}`);
  return String(r.values[1]);
}

/** A refused request's answer: a response (not an event) with our status and our message, as a Java consumer reads it. */
function assertRefused(r: DubboReply, status: number, message: string): void {
  assert.equal(r.flag & 0xe0, 0, "a plain response: no request or event bit");
  assert.equal(r.status, status);
  assert.deepEqual(r.values, [message]);
}

/** Resolves once `done()` holds (checked every few ms), or fails after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function onOneConnection<T>(port: number, f: (c: DubboConsumer) => Promise<T>): Promise<T> {
  const c = await DubboConsumer.connect(port);
  try {
    return await withTimeout(f(c), 5000, "dubbo calls");
  } finally {
    await c.close();
  }
}

/** Requests each provider served since `marks` was taken, as "service.method". */
function served(providers: Map<string, DubboPeer>, marks: Map<string, number>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [n, p] of providers) {
    const got = p.requests.slice(marks.get(n) ?? 0).map((r) => `${r.service}.${r.method}`);
    if (got.length > 0) out[n] = got;
  }
  return out;
}

const mark = (providers: Map<string, DubboPeer>): Map<string, number> => new Map([...providers].map(([n, p]) => [n, p.requests.length]));

describe("dubbo filter per connection (tcp_proxy), rendered bootstrap, hessian.js peers", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let port = 0;

  before(async () => {
    providers = await startProviders([...PROVIDERS, "dubbo-default"]);
    const rendered = bootstrap(dubboPerConnectionBootstrapProps({ rules: parseRuleSet(RULES, "shop.yaml"), endpoints: endpointsOf(providers), seed: 42, listenPort: 0 }));
    const configuration = wasmConfiguration(rendered);
    assert.deepEqual(checkConfiguration("dubbo", configuration), []);
    const tcp = chainFilters(rendered)[1]!.typed_config as Json;
    host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
    const plugin = await host.loadPlugin({ name: "dubbo", wasm: dubboWasm, rootId: "dubbo", configuration, vmCount: 2 });
    const listener = await host.tcpListener({
      filterChains: [{
        name: "dubbo",
        filters: [plugin],
        tcpProxy: {
          cluster: String(tcp.cluster),
          upstreamConnectMode: tcp.upstream_connect_mode as UpstreamConnectMode,
          maxEarlyDataBytes: Number(tcp.max_early_data_bytes),
        },
      }],
    });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("routes each connection by its first request's interface, method and attachment", async () => {
    const m = mark(providers);
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.OrderService", "get", "1")))), "get:1");
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.OrderService", "create", "2")))), "create:2");
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.OrderService", "get", "3", { "x-canary": "1" })))), "get:3");
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.payments.Refunds", "refund", "4")))), "refund:4");
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Unknown", "x", "5")))), "x:5");
    assert.deepEqual(served(providers, m), {
      "orders-v1": ["com.acme.OrderService.get"],
      "orders-v2": ["com.acme.OrderService.create", "com.acme.OrderService.get"],
      payments: ["com.acme.payments.Refunds.refund"],
      "dubbo-default": ["com.acme.Unknown.x"],
    });
  });

  it("keeps the first request's destination for the connection and counts the others as route_mismatch", async () => {
    const m = mark(providers);
    const before = counter(host, "route_mismatch_total", {});
    await onOneConnection(port, async (c) => {
      // Multiplexed: three requests in flight on one connection, answered by id.
      const replies = await Promise.all([
        c.call(call("com.acme.OrderService", "get", "a")),
        c.call(call("com.acme.OrderService", "create", "b")),
        c.call(call("com.acme.payments.Pay", "pay", "c")),
      ]);
      assert.deepEqual(replies.map(valueOf), ["get:a", "create:b", "pay:c"]);
    });
    assert.deepEqual(served(providers, m), { "orders-v1": ["com.acme.OrderService.get", "com.acme.OrderService.create", "com.acme.payments.Pay.pay"] });
    assert.equal(counter(host, "route_mismatch_total", {}) - before, 2n);
  });

  it("answers deny, rate limit and abort with Dubbo errors carrying the rule's message; the provider sees only heartbeats", async () => {
    const m = mark(providers);
    const beats = providers.get("dubbo-default")!.heartbeats.length;
    const v1beats = providers.get("orders-v1")!.heartbeats.length;
    await onOneConnection(port, async (c) => {
      assertRefused(await c.call(call("com.acme.Legacy", "list", "x")), SERVICE_ERROR, "Legacy is retired; use com.acme.Admin");
      // The connection stays usable: the next request reaches the connection's provider.
      assert.equal(valueOf(await c.call(call("com.acme.Unknown", "after", "y"))), "after:y");
    });
    assert.equal(providers.get("dubbo-default")!.heartbeats.length - beats, 1);
    // Two tokens per minute for the rule, shared by both worker VMs: the third request is refused.
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Limited", "get", "1")))), "get:1");
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Limited", "get", "2")))), "get:2");
    assertRefused(await onOneConnection(port, (c) => c.call(call("com.acme.Limited", "get", "3"))), THREADPOOL_EXHAUSTED, "rate limited by protomesh rule limited");
    assertRefused(await onOneConnection(port, (c) => c.call(call("com.acme.Flaky", "get", "f"))), SERVICE_ERROR, "injected by a fault rule");
    assert.equal(providers.get("orders-v1")!.heartbeats.length - v1beats, 2);
    assert.deepEqual(served(providers, m), { "orders-v1": ["com.acme.Limited.get", "com.acme.Limited.get"], "dubbo-default": ["com.acme.Unknown.after"] });
    assert.equal(counter(host, "istio_requests_total", { response_flags: "UAEX", response_code: "70" }), 1n);
    assert.equal(counter(host, "istio_requests_total", { response_flags: "RL", response_code: "100" }), 1n);
    assert.equal(counter(host, "istio_requests_total", { response_flags: "FI", response_code: "70" }), 1n);
  });

  it("passes the client's own heartbeats and their answers untouched", async () => {
    await onOneConnection(port, async (c) => {
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "h"))), "get:h");
      const hb = await c.heartbeat();
      assert.equal(hb.flag, 0x22, "a heartbeat response: serialization 2 | event");
      assert.equal(hb.status, OK);
    });
  });

  it("adds the configured delay to a delayed request", async () => {
    const plain = Date.now();
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.OrderService", "get", "fast")))), "get:fast");
    const fast = Date.now() - plain;
    const delayed = counter(host, "istio_requests_total", { destination_service: "orders-v1", response_code: "20", response_flags: "DI" });
    const start = Date.now();
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Slow", "get", "s")))), "get:s");
    const slow = Date.now() - start;
    assert.ok(slow >= 300, `delayed request took ${slow} ms, under the 300 ms delay`);
    assert.ok(slow < fast + 300 + 250, `delayed request took ${slow} ms (undelayed ${fast} ms)`);
    // Counted with Envoy's fault-filter flag for an injected delay.
    assert.equal(counter(host, "istio_requests_total", { destination_service: "orders-v1", response_code: "20", response_flags: "DI" }) - delayed, 1n);
  });

  it("splits connections 90/10 within ±3% over 1,000 connections (seeded)", async () => {
    const a0 = providers.get("split-a")!.requests.length;
    const b0 = providers.get("split-b")!.requests.length;
    const n = 1000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => onOneConnection(port, (c) => c.call(call("com.acme.Split", "go", String(i + k))))));
    }
    const a = providers.get("split-a")!.requests.length - a0;
    const b = providers.get("split-b")!.requests.length - b0;
    assert.equal(a + b, n);
    assert.ok(Math.abs(a / n - 0.9) <= 0.03, `split-a got ${a} of ${n}`);
  });

  it("handles another serialization by header only and passes malformed or oversized frames untouched, counted", async () => {
    // fastjson (serialization 6): header only, so no rule applies; the bytes reach tcp_proxy's cluster.
    const nonHessian = counter(host, "non_hessian2_total", {});
    const fastjson = Buffer.from("dabbc600000000000000000e0000002a22322e302e32220a22636f6d2e61636d652e4a220a22302e302e30220a226d220a2249220a310a7b7d0a", "hex");
    const c1 = await DubboConsumer.connect(port);
    c1.writeRaw(fastjson);
    await withTimeout(c1.closed, 5000, "the provider closing on a body it cannot read");
    assert.equal(counter(host, "non_hessian2_total", {}) - nonHessian, 1n);

    const errors = counter(host, "decode_errors_total", {});
    const m = mark(providers);
    await onOneConnection(port, async (c) => {
      assert.equal(valueOf(await c.call(call("com.acme.payments.Pay", "pay", "ok"))), "pay:ok");
      // A bad magic: the filter stops decoding this connection and lets the bytes through.
      c.writeRaw(Buffer.from("cafebabe00000000000000000000000100", "hex"));
      await c.closed;
    });
    // A header announcing 9 MiB, over max_body_bytes (8 MiB), as the first frame: decoding stops,
    // the connection goes to tcp_proxy's own cluster untouched.
    const big = Buffer.alloc(16);
    big.writeUInt16BE(0xdabb, 0);
    big[2] = 0xc2;
    big.writeBigInt64BE(9n, 4);
    big.writeInt32BE(9 * 1024 * 1024, 12);
    const c2 = await DubboConsumer.connect(port);
    c2.writeRaw(big);
    // Nothing answers a frame that never completes: wait for the count itself.
    await until(() => counter(host, "decode_errors_total", {}) - errors === 2n, 5000, "the oversized frame's decode error");
    await c2.close();
    assert.deepEqual(served(providers, m), { payments: ["com.acme.payments.Pay.pay"] });
    // The plugin is healthy: the next connection is routed as before.
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.payments.Pay", "pay", "after")))), "pay:after");
  });

  it("counts every request in istio_requests_total by destination and status, and its bytes", async () => {
    const tags = { request_protocol: "dubbo", destination_service: "payments", response_code: "20", response_flags: "-" };
    const before = counter(host, "istio_requests_total", tags);
    const oneway = counter(host, "istio_requests_total", { destination_service: "payments", response_code: "oneway" });
    await onOneConnection(port, async (c) => {
      for (let i = 0; i < 5; i++) assert.equal(valueOf(await c.call(call("com.acme.payments.Pay", "pay", String(i)))), `pay:${i}`);
      await c.call({ ...call("com.acme.payments.Pay", "notify", "n"), twoWay: false });
      assert.equal(valueOf(await c.call(call("com.acme.payments.Pay", "pay", "last"))), "pay:last");
    });
    assert.equal(counter(host, "istio_requests_total", tags) - before, 6n);
    assert.equal(counter(host, "istio_requests_total", { destination_service: "payments", response_code: "oneway" }) - oneway, 1n);
  });
});

describe("dubbo filter per request (in front of dubbo_proxy), rendered bootstrap, hessian.js peers", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let proxy: DubboProxy;
  let port = 0;

  before(async () => {
    providers = await startProviders(PROVIDERS);
    const { props } = dubboPerRequestBootstrapProps({ rules: parseRuleSet(RULES, "shop.yaml"), endpoints: endpointsOf(providers), seed: 7, listenPort: 0 });
    const rendered = bootstrap(props);
    const configuration = wasmConfiguration(rendered);
    assert.equal(JSON.parse(configuration).routing, "request");
    host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
    const plugin = await host.loadPlugin({ name: "dubbo-per-request", wasm: dubboWasm, rootId: "dubbo", configuration, vmCount: 2 });
    proxy = new DubboProxy(renderedTerminal(rendered, DUBBO_PROXY_FILTER_NAME), host, { random: seededRandom(3) });
    const listener = await host.tcpListener({ filterChains: [{ name: "dubbo", filters: [plugin], tcpProxy: {}, terminal: proxy.terminal }] });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await proxy?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("lets consecutive requests on one connection reach the providers the rules name", async () => {
    const m = mark(providers);
    await onOneConnection(port, async (c) => {
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "1"))), "get:1");
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "create", "2"))), "create:2");
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "3", { "x-canary": "1" }))), "get:3");
      assert.equal(valueOf(await c.call(call("com.acme.payments.Refunds", "refund", "4"))), "refund:4");
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "5"))), "get:5");
    });
    assert.deepEqual(served(providers, m), {
      "orders-v1": ["com.acme.OrderService.get", "com.acme.OrderService.get"],
      "orders-v2": ["com.acme.OrderService.create", "com.acme.OrderService.get"],
      payments: ["com.acme.payments.Refunds.refund"],
    });
    assert.equal(counter(host, "route_mismatch_total", {}), 0n);
  });

  it("answers deny, rate limit and abort with Dubbo errors carrying the rule's message (dubbo_proxy answers the heartbeat)", async () => {
    const m = mark(providers);
    const beats = [...providers.values()].reduce((a, p) => a + p.heartbeats.length, 0);
    await onOneConnection(port, async (c) => {
      // In flight together, answered by id: a refused request among routed ones.
      const [refused, routed] = await Promise.all([
        c.call(call("com.acme.Legacy", "list", "x")),
        c.call(call("com.acme.OrderService", "get", "with")),
      ]);
      assertRefused(refused, SERVICE_ERROR, "Legacy is retired; use com.acme.Admin");
      assert.equal(valueOf(routed), "get:with");
      assert.equal(valueOf(await c.call(call("com.acme.Limited", "get", "1"))), "get:1");
      assert.equal(valueOf(await c.call(call("com.acme.Limited", "get", "2"))), "get:2");
      assertRefused(await c.call(call("com.acme.Limited", "get", "3")), THREADPOOL_EXHAUSTED, "rate limited by protomesh rule limited");
      assertRefused(await c.call(call("com.acme.Flaky", "get", "f")), SERVICE_ERROR, "injected by a fault rule");
      // A refused oneway request: its heartbeat's answer is dropped, the consumer sees nothing for it.
      await c.call({ ...call("com.acme.Legacy", "notify", "o"), twoWay: false });
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "after"))), "get:after");
      assert.deepEqual(c.unmatched, []);
    });
    assert.equal([...providers.values()].reduce((a, p) => a + p.heartbeats.length, 0), beats, "dubbo_proxy answers heartbeats itself");
    assert.deepEqual(served(providers, m), { "orders-v1": ["com.acme.OrderService.get", "com.acme.Limited.get", "com.acme.Limited.get", "com.acme.OrderService.get"] });
    assert.equal(proxy.stats.get("dubbo.shop.request_event"), 4);
  });

  it("adds the configured delay to a delayed request and not to the next", async () => {
    await onOneConnection(port, async (c) => {
      const start = Date.now();
      assert.equal(valueOf(await c.call(call("com.acme.Slow", "get", "s"))), "get:s");
      const slow = Date.now() - start;
      assert.ok(slow >= 300 && slow < 800, `delayed request took ${slow} ms`);
      const next = Date.now();
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "n"))), "get:n");
      assert.ok(Date.now() - next < 250, "the next request is not held");
    });
  });

  it("splits 1,000 requests on one connection 90/10 within ±3% and counts them", async () => {
    const a0 = providers.get("split-a")!.requests.length;
    const b0 = providers.get("split-b")!.requests.length;
    const unknown = counter(host, "istio_requests_total", { destination_service: "", response_code: "20" });
    const n = 1000;
    await onOneConnection(port, async (c) => {
      for (let i = 0; i < n; i += 50) {
        const replies = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => c.call(call("com.acme.Split", "go", String(i + k)))));
        replies.forEach((r, k) => assert.equal(valueOf(r), `go:${i + k}`));
      }
    });
    const a = providers.get("split-a")!.requests.length - a0;
    const b = providers.get("split-b")!.requests.length - b0;
    assert.equal(a + b, n);
    assert.ok(Math.abs(a / n - 0.9) <= 0.03, `split-a got ${a} of ${n}`);
    // dubbo_proxy picks the weighted cluster, which the filter does not see: its requests carry no
    // destination service but the local one (none on this standalone node).
    assert.equal(counter(host, "istio_requests_total", { destination_service: "", response_code: "20" }) - unknown, BigInt(n));
  });
});

describe("dubbo filter per connection: decode timeout", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let port = 0;

  before(async () => {
    providers = await startProviders(["orders-v1", "dubbo-default"]);
    const rules = parseRuleSet(`
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: quick }
spec:
  rules:
    - name: orders
      match: { service: { exact: com.acme.OrderService } }
      route: { cluster: orders-v1 }
`, "quick.yaml");
    const rendered = bootstrap(dubboPerConnectionBootstrapProps({ rules, endpoints: endpointsOf(providers), decodeTimeoutMs: 150, listenPort: 0 }));
    const tcp = chainFilters(rendered)[1]!.typed_config as Json;
    host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
    const plugin = await host.loadPlugin({ name: "dubbo-quick", wasm: dubboWasm, rootId: "dubbo", configuration: wasmConfiguration(rendered), vmCount: 1 });
    const listener = await host.tcpListener({
      filterChains: [{
        name: "dubbo",
        filters: [plugin],
        tcpProxy: { cluster: String(tcp.cluster), upstreamConnectMode: tcp.upstream_connect_mode as UpstreamConnectMode, maxEarlyDataBytes: Number(tcp.max_early_data_bytes) },
      }],
    });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("holds a connection that sends only a heartbeat until decode_timeout_ms, then lets tcp_proxy's cluster answer it untouched", async () => {
    const timeouts = counter(host, "decode_timeouts_total", {});
    const start = Date.now();
    await onOneConnection(port, async (c) => {
      const hb = await c.heartbeat();
      assert.equal(hb.flag, 0x22);
      assert.ok(Date.now() - start >= 150, `answered after ${Date.now() - start} ms, before the 150 ms decode timeout`);
      // Decided by the timeout: later requests follow the connection to tcp_proxy's cluster.
      assert.equal(valueOf(await c.call(call("com.acme.OrderService", "get", "late"))), "get:late");
    });
    assert.equal(counter(host, "decode_timeouts_total", {}) - timeouts, 1n);
    assert.equal(providers.get("dubbo-default")!.heartbeats.length, 1);
    assert.deepEqual(providers.get("dubbo-default")!.requests.map((r) => r.method), ["get"]);
  });
});
