import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { dubboProxyFilter, DUBBO_PROXY_FILTER_NAME } from "../../controller/dubbo/filter.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { perRequestBootstrapProps } from "../../controller/rules/per-request.js";
import { DubboConsumer, startDubboProvider, type DubboCall, type DubboPeer } from "../peers/dubbo.js";
import { DubboProxy, DubboStatus } from "./dubbo-proxy.js";
import { fakeHost } from "./fakes.js";
import { renderedClusters, renderedTerminal } from "./rendered.js";
import { seededRandom, unusedPort } from "./rpc-fixtures.js";
import { startTcpListener, type TcpListener } from "./tcp.js";

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: shop }
spec:
  rules:
    - name: orders-canary
      match: { service: { exact: com.acme.Orders }, headers: [{ name: X-Canary, exact: "1" }] }
      route: { cluster: orders-canary }
    - name: orders-v2
      match: { service: { exact: com.acme.Orders }, version: "2.0.0" }
      route: { cluster: orders-v2 }
    - name: orders-blue
      match: { service: { exact: com.acme.Orders }, group: blue }
      route: { cluster: orders-blue }
    - name: orders-create
      match: { service: { exact: com.acme.Orders }, method: { glob: "create*" } }
      route: { cluster: orders-create }
    - name: orders
      match: { service: { exact: com.acme.Orders } }
      route: { cluster: orders-v1 }
    - name: payments-split
      match: { service: { prefix: com.acme.pay. } }
      route: { weightedClusters: [{ name: pay-a, weight: 90 }, { name: pay-b, weight: 10 }] }
    - name: refused
      match: { service: { exact: com.acme.Down } }
      route: { cluster: down }
`;

const PROVIDERS = ["orders-canary", "orders-v2", "orders-blue", "orders-create", "orders-v1", "pay-a", "pay-b"] as const;
type Provider = (typeof PROVIDERS)[number];


describe("dubbo_proxy emulator, loaded from the controller's rendered per-request bootstrap", { timeout: 60_000 }, () => {
  const peers = new Map<Provider, DubboPeer>();
  let proxy: DubboProxy;
  let listener: TcpListener;
  const consumers: DubboConsumer[] = [];

  const consumer = async (): Promise<DubboConsumer> => {
    const c = await DubboConsumer.connect(listener.port);
    consumers.push(c);
    return c;
  };
  const served = (): Record<string, number> =>
    Object.fromEntries([...peers].map(([name, p]) => [name, p.requests.length]));
  const servedBy = async (c: DubboConsumer, call: DubboCall): Promise<string> => {
    const before = served();
    const reply = await c.call(call);
    assert.equal(reply.status, DubboStatus.Ok, `call ${JSON.stringify(call)} answered ${reply.status} ${JSON.stringify(reply.values)}`);
    const after = served();
    const changed = PROVIDERS.filter((p) => after[p] !== before[p]);
    assert.equal(changed.length, 1, `exactly one provider serves a call, got ${changed.join(", ")}`);
    return changed[0]!;
  };

  before(async () => {
    for (const name of PROVIDERS) {
      peers.set(name, await startDubboProvider(name === "orders-v2" ? { delayMs: (r) => (r.args[0] === "slow" ? 150 : 0) } : {}));
    }
    const rules = parseRuleSet(RULES, "shop-rules.yaml");
    const { filter } = dubboProxyFilter({ rules });
    const endpoints: Record<string, { address: string; port: number }[]> = { down: [{ address: "127.0.0.1", port: await unusedPort() }] };
    for (const [name, p] of peers) endpoints[name] = [{ address: "127.0.0.1", port: p.port }];
    const rendered = bootstrap(perRequestBootstrapProps({ rules, endpoints, defaultPort: 20880, listenPort: 0 }, filter));
    const host = fakeHost(Object.fromEntries(renderedClusters(rendered)));
    proxy = new DubboProxy(renderedTerminal(rendered, DUBBO_PROXY_FILTER_NAME), host, { random: seededRandom(7) });
    listener = await startTcpListener(host, { filterChains: [{ filters: [], tcpProxy: {}, terminal: proxy.terminal }] });
  });

  after(async () => {
    await Promise.all(consumers.map((c) => c.close()));
    await listener.close();
    await proxy.close();
    await Promise.all([...peers.values()].map((p) => p.close()));
  });

  const routing: Array<{ name: string; call: DubboCall; provider: Provider }> = [
    { name: "attachment exact (name compared case-insensitively)", call: { service: "com.acme.Orders", method: "get", arg: "1", attachments: { "x-canary": "1" } }, provider: "orders-canary" },
    { name: "attachment with another value falls through", call: { service: "com.acme.Orders", method: "get", arg: "1", attachments: { "x-canary": "0" } }, provider: "orders-v1" },
    { name: "service version from the body", call: { service: "com.acme.Orders", method: "get", arg: "1", version: "2.0.0" }, provider: "orders-v2" },
    { name: "group attachment", call: { service: "com.acme.Orders", method: "get", arg: "1", attachments: { group: "blue" } }, provider: "orders-blue" },
    { name: "method glob", call: { service: "com.acme.Orders", method: "createOrder", arg: "1" }, provider: "orders-create" },
    { name: "method glob needs one more character", call: { service: "com.acme.Orders", method: "create", arg: "1" }, provider: "orders-v1" },
    { name: "interface exact, rest of the rules", call: { service: "com.acme.Orders", method: "list", arg: "1" }, provider: "orders-v1" },
  ];
  for (const t of routing) {
    it(`routes by ${t.name} → ${t.provider}`, async () => {
      const c = await consumer();
      assert.equal(await servedBy(c, t.call), t.provider);
    });
  }

  it("routes each request on its own: consecutive calls on one connection reach the providers the rules name", async () => {
    const c = await consumer();
    const seen: string[] = [];
    for (const t of routing) seen.push(await servedBy(c, t.call));
    assert.deepEqual(seen, routing.map((t) => t.provider));
  });

  it("multiplexed request ids on one connection: each response comes back with its own id, out of order", async () => {
    const c = await consumer();
    const slow = c.call({ service: "com.acme.Orders", method: "get", arg: "slow", version: "2.0.0" });
    const fast = c.call({ service: "com.acme.Orders", method: "get", arg: "fast", attachments: { "x-canary": "1" } });
    const order: string[] = [];
    const [s, f] = await Promise.all([slow.then((r) => (order.push("slow"), r)), fast.then((r) => (order.push("fast"), r))]);
    assert.deepEqual(order, ["fast", "slow"]);
    assert.equal(s.values[1], "get:slow");
    assert.equal(f.values[1], "get:fast");
    assert.notEqual(s.id, f.id);
  });

  it("reuses a pooled upstream connection for sequential requests to one cluster", async () => {
    const c = await consumer();
    const before = proxy.pools.connectionsOpened("orders-blue");
    for (let i = 0; i < 5; i++) await servedBy(c, { service: "com.acme.Orders", method: "get", arg: String(i), attachments: { group: "blue" } });
    assert.ok(proxy.pools.connectionsOpened("orders-blue") - before <= 1, "one upstream connection serves the sequence");
  });

  it("splits weighted clusters 90/10 over 1,000 requests within ±3%", async () => {
    const c = await consumer();
    const a0 = peers.get("pay-a")!.requests.length;
    const b0 = peers.get("pay-b")!.requests.length;
    for (let batch = 0; batch < 50; batch++) {
      const calls = Array.from({ length: 20 }, (_, i) => c.call({ service: "com.acme.pay.Wallet", method: "charge", arg: `${batch}-${i}` }));
      for (const r of await Promise.all(calls)) assert.equal(r.status, DubboStatus.Ok);
    }
    const a = peers.get("pay-a")!.requests.length - a0;
    const b = peers.get("pay-b")!.requests.length - b0;
    assert.equal(a + b, 1000);
    assert.ok(a >= 870 && a <= 930, `pay-a served ${a} of 1000`);
  });

  it("answers a heartbeat itself: same id, event flag with the serialization id, status 20, null body", async () => {
    const c = await consumer();
    const before = served();
    const events = proxy.stats.get("dubbo.shop.request_event");
    const r = await c.heartbeat();
    assert.equal(r.flag, 0x22);
    assert.equal(r.status, DubboStatus.Ok);
    assert.deepEqual(r.values, [null]);
    assert.deepEqual(served(), before, "no provider saw the heartbeat");
    assert.equal(proxy.stats.get("dubbo.shop.request_event"), events + 1);
  });

  const localReplies: Array<{ name: string; call: DubboCall; status: number; message: RegExp }> = [
    { name: "no route", call: { service: "com.acme.Nope", method: "get", arg: "1" }, status: DubboStatus.ServiceNotFound, message: /^dubbo router: no route for interface 'com\.acme\.Nope'$/ },
    { name: "upstream refuses the connection", call: { service: "com.acme.Down", method: "get", arg: "1" }, status: DubboStatus.ServerError, message: /^dubbo upstream request: remote connection failure '127\.0\.0\.1:\d+'$/ },
  ];
  for (const t of localReplies) {
    it(`answers ${t.name} with status ${t.status} and Envoy's message, and keeps the connection`, async () => {
      const c = await consumer();
      const r = await c.call(t.call);
      assert.equal(r.status, t.status);
      assert.equal(r.values[0], 0, "RESPONSE_WITH_EXCEPTION");
      assert.match(String(r.values[1]), t.message);
      assert.equal(await servedBy(c, routing[0]!.call), routing[0]!.provider, "the connection still serves");
    });
  }

  it("answers a cluster without endpoints with ServerError 'no healthy upstream'", async () => {
    const host = fakeHost({ "orders-v1": { endpoints: [] } });
    const rendered = dubboProxyFilter({ rules: parseRuleSet(RULES, "shop-rules.yaml") }).filter.typed_config;
    const p = new DubboProxy(rendered, host);
    const l = await startTcpListener(host, { filterChains: [{ filters: [], tcpProxy: {}, terminal: p.terminal }] });
    try {
      const c = await DubboConsumer.connect(l.port);
      consumers.push(c);
      const r = await c.call({ service: "com.acme.Orders", method: "get", arg: "1" });
      assert.equal(r.status, DubboStatus.ServerError);
      assert.equal(r.values[1], "dubbo router: no healthy upstream for 'orders-v1'");
    } finally {
      await l.close();
      await p.close();
    }
  });

  it("forwards a oneway request without waiting for a reply", async () => {
    const c = await consumer();
    const peer = peers.get("orders-blue")!;
    const before = peer.requests.length;
    await c.call({ service: "com.acme.Orders", method: "notify", arg: "x", attachments: { group: "blue" }, twoWay: false });
    const deadline = Date.now() + 5000;
    while (peer.requests.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(peer.requests.at(-1)?.method, "notify");
    assert.equal(await servedBy(c, routing[0]!.call), routing[0]!.provider, "the connection still serves");
  });

  const malformed: Array<{ name: string; bytes: Buffer }> = [
    { name: "a bad magic", bytes: Buffer.from("GET / HTTP/1.1\r\n\r\n") },
    { name: "a body over 16 MiB", bytes: Buffer.from([0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0, 0, 1]) },
    { name: "a serialization other than Hessian2 (fastjson, 6)", bytes: Buffer.from([0xda, 0xbb, 0xc6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]) },
  ];
  for (const t of malformed) {
    it(`closes the connection on ${t.name} and counts request_decoding_error`, async () => {
      const c = await consumer();
      const errors = proxy.stats.get("dubbo.shop.request_decoding_error");
      c.writeRaw(t.bytes);
      await c.closed;
      assert.equal(proxy.stats.get("dubbo.shop.request_decoding_error"), errors + 1);
    });
  }
});
