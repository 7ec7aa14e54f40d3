import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { perRequestBootstrapProps } from "../../controller/rules/per-request.js";
import { thriftProxyFilter, THRIFT_PROXY_FILTER_NAME, type ThriftProtocol, type ThriftTransport } from "../../controller/thrift/filter.js";
import { startThriftServer, thriftClient, type ThriftPeer, type ThriftStack } from "../peers/thrift.js";
import { fakeHost } from "./fakes.js";
import { renderedClusters, renderedTerminal } from "./rendered.js";
import { seededRandom, unusedPort } from "./rpc-fixtures.js";
import { startTcpListener, type TcpListener } from "./tcp.js";
import { AppExceptionType, ThriftProxy, encodeFrame, readMessageBegin, takeFrame, writeMessageBegin, type ThriftProtocol as WireProtocol, type ThriftTransport as WireTransport } from "./thrift-proxy.js";

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: catalog }
spec:
  rules:
    - name: orders-echo
      match: { service: { exact: Orders }, method: { exact: echo } }
      route: { cluster: orders-echo }
    - name: orders
      match: { service: { exact: Orders } }
      route: { cluster: orders }
    - name: blue-tenant
      match: { method: { exact: hello }, headers: [{ name: X-Tenant, exact: blue }] }
      route: { cluster: orders }
    - name: hello
      match: { method: { exact: hello } }
      route: { cluster: hello }
    - name: notify
      match: { method: { exact: notify } }
      route: { cluster: hello }
    - name: split
      match: { method: { exact: echo } }
      route: { weightedClusters: [{ name: echo-a, weight: 90 }, { name: echo-b, weight: 10 }] }
    - name: refused
      match: { method: { exact: down } }
      route: { cluster: down }
`;

const SERVERS = ["orders-echo", "orders", "hello", "echo-a", "echo-b"] as const;
type Server = (typeof SERVERS)[number];

const STACKS: Array<{ stack: ThriftStack; transport: ThriftTransport; protocol: ThriftProtocol }> = [
  { stack: "framed-binary", transport: "FRAMED", protocol: "BINARY" },
  { stack: "buffered-binary", transport: "UNFRAMED", protocol: "BINARY" },
  { stack: "framed-compact", transport: "FRAMED", protocol: "COMPACT" },
  { stack: "header-binary", transport: "HEADER", protocol: "BINARY" },
];


describe("thrift_proxy codec pieces", () => {
  const cases: Array<{ protocol: WireProtocol; transport: WireTransport }> = [
    { protocol: "BINARY", transport: "FRAMED" },
    { protocol: "LAX_BINARY", transport: "FRAMED" },
    { protocol: "COMPACT", transport: "FRAMED" },
    { protocol: "BINARY", transport: "HEADER" },
    { protocol: "COMPACT", transport: "HEADER" },
  ];
  for (const c of cases) {
    it(`${c.transport} ${c.protocol}: a message survives encode → split at every byte → decode, headers included`, () => {
      const body = Buffer.from([0]); // an empty struct
      const message = Buffer.concat([writeMessageBegin(c.protocol, "Orders:echo", 1, 77), body]);
      const headers = c.transport === "HEADER" ? new Map([["x-tenant", "blue"]]) : new Map<string, string>();
      const bytes = encodeFrame(c.transport, c.protocol, message, headers);
      for (let cut = 0; cut < bytes.length; cut++) assert.equal(takeFrame(c.transport, c.protocol, bytes.subarray(0, cut)), undefined, `cut ${cut}`);
      const f = takeFrame(c.transport, c.protocol, bytes)!;
      assert.deepEqual({ ...f.begin, payloadOffset: undefined }, { name: "Orders:echo", type: 1, seqid: 77, payloadOffset: undefined });
      assert.equal(f.consumed, bytes.length);
      assert.deepEqual([...f.headers], [...headers]);
    });
  }

  it("BINARY refuses a message without the version word; LAX_BINARY refuses one with it", () => {
    const lax = writeMessageBegin("LAX_BINARY", "echo", 1, 1);
    const strict = writeMessageBegin("BINARY", "echo", 1, 1);
    assert.throws(() => readMessageBegin("BINARY", lax), /invalid binary protocol version/);
    assert.throws(() => readMessageBegin("LAX_BINARY", strict), /version word/);
  });
});

for (const s of STACKS) {
  describe(`thrift_proxy emulator (${s.transport} ${s.protocol}), loaded from the controller's rendered per-request bootstrap`, { timeout: 60_000 }, () => {
    const servers = new Map<Server, ThriftPeer>();
    let proxy: ThriftProxy;
    let listener: TcpListener;
    const clients: Array<{ close(): void }> = [];

    const client = async () => {
      const c = await thriftClient(listener.port, s.stack);
      clients.push(c);
      return c;
    };
    const counts = (): Record<string, number> => Object.fromEntries([...servers].map(([n, p]) => [n, p.calls.length]));
    const servedBy = async (c: Awaited<ReturnType<typeof client>>, name: string, msg: string): Promise<string> => {
      const before = counts();
      const base = name.slice(name.indexOf(":") + 1);
      assert.equal(await c.client.call(name, msg), `${base}:${msg}`);
      const after = counts();
      const changed = SERVERS.filter((n) => after[n] !== before[n]);
      assert.equal(changed.length, 1, `one server serves ${name}, got ${changed.join(", ")}`);
      return changed[0]!;
    };

    before(async () => {
      for (const name of SERVERS) servers.set(name, await startThriftServer(s.stack));
      const rules = parseRuleSet(RULES, "catalog-rules.yaml");
      const { filter } = thriftProxyFilter({ rules, transport: s.transport, protocol: s.protocol });
      const endpoints: Record<string, { address: string; port: number }[]> = { down: [{ address: "127.0.0.1", port: await unusedPort() }] };
      for (const [name, p] of servers) endpoints[name] = [{ address: "127.0.0.1", port: p.port }];
      const rendered = bootstrap(perRequestBootstrapProps({ rules, endpoints, defaultPort: 9090, listenPort: 0 }, filter));
      const host = fakeHost(Object.fromEntries(renderedClusters(rendered)));
      proxy = new ThriftProxy(renderedTerminal(rendered, THRIFT_PROXY_FILTER_NAME), host, { random: seededRandom(11) });
      listener = await startTcpListener(host, { filterChains: [{ filters: [], tcpProxy: {}, terminal: proxy.terminal }] });
    });

    after(async () => {
      for (const c of clients) c.close();
      await listener.close();
      await proxy.close();
      await Promise.all([...servers.values()].map((p) => p.close()));
    });

    const routing: Array<{ call: string; server: Server; why: string }> = [
      { call: "Orders:echo", server: "orders-echo", why: "service and method (method_name Orders:echo)" },
      { call: "Orders:hello", server: "orders", why: "service (service_name Orders)" },
      { call: "hello", server: "hello", why: "method" },
    ];
    for (const t of routing) {
      it(`routes ${t.call} by ${t.why} → ${t.server}`, async () => {
        assert.equal(await servedBy(await client(), t.call, "x"), t.server);
      });
    }

    it("routes each call on its own: consecutive calls on one connection reach the servers the rules name", async () => {
      const c = await client();
      const seen: string[] = [];
      for (const t of [...routing, ...routing]) seen.push(await servedBy(c, t.call, t.call));
      assert.deepEqual(seen, [...routing, ...routing].map((t) => t.server));
    });

    it("overlapping calls on one connection each get their own reply (seqids rewritten upstream, restored downstream)", async () => {
      const c = await client();
      const replies = await Promise.all(routing.map((t, i) => c.client.call(t.call, `m${i}`)));
      assert.deepEqual(replies, routing.map((t, i) => `${t.call.slice(t.call.indexOf(":") + 1)}:m${i}`));
    });

    it("forwards a oneway call without awaiting a reply and keeps serving", async () => {
      const c = await client();
      const hello = servers.get("hello")!;
      const before = hello.names.length;
      await c.client.call("notify", "n", { oneway: true });
      assert.equal(await servedBy(c, "hello", "after-notify"), "hello");
      assert.deepEqual(hello.names.slice(before), ["notify", "hello"]);
    });

    it("answers an unroutable call with TApplicationException UnknownMethod \"no route for method '…'\" seen by the client", async () => {
      const c = await client();
      await assert.rejects(c.client.call("bye", "x"), (err: Error & { type?: number }) => {
        assert.equal(err.message, "no route for method 'bye'");
        assert.equal(err.type, AppExceptionType.UnknownMethod);
        return true;
      });
    });

    it("answers a refused upstream connection with InternalError naming the host", async () => {
      const c = await client();
      await assert.rejects(c.client.call("down", "x"), (err: Error & { type?: number }) => {
        assert.match(err.message, /^connection failure: remote connection failure '127\.0\.0\.1:\d+'$/);
        assert.equal(err.type, AppExceptionType.InternalError);
        return true;
      });
    });

    if (s.transport === "HEADER") {
      it("routes by THeader headers (names case-insensitive) and forwards them upstream", async () => {
        const c = await client();
        const trans = c.client.output as unknown as { setWriteHeader(k: string, v: string): void; clearWriteHeaders(): void };
        trans.setWriteHeader("X-Tenant", "blue");
        assert.equal(await servedBy(c, "hello", "with-header"), "orders");
        trans.clearWriteHeaders();
        assert.equal(await servedBy(c, "hello", "without"), "hello");
      });
    }

    if (s.stack === "framed-binary") {
      it("splits weighted clusters 90/10 over 1,000 calls within ±3%", async () => {
        const c = await client();
        const a0 = servers.get("echo-a")!.calls.length;
        const b0 = servers.get("echo-b")!.calls.length;
        for (let batch = 0; batch < 50; batch++) {
          await Promise.all(Array.from({ length: 20 }, (_, i) => c.client.call("echo", `${batch}.${i}`)));
        }
        const a = servers.get("echo-a")!.calls.length - a0;
        const b = servers.get("echo-b")!.calls.length - b0;
        assert.equal(a + b, 1000);
        assert.ok(a >= 870 && a <= 930, `echo-a served ${a} of 1000`);
      });

      it("answers a cluster without endpoints with InternalError \"no healthy upstream for '…'\"", async () => {
        const host = fakeHost({ hello: { endpoints: [] } });
        const typed = thriftProxyFilter({ rules: parseRuleSet(RULES, "catalog-rules.yaml"), transport: s.transport, protocol: s.protocol }).filter.typed_config;
        const p = new ThriftProxy(typed, host);
        const l = await startTcpListener(host, { filterChains: [{ filters: [], tcpProxy: {}, terminal: p.terminal }] });
        try {
          const c = await thriftClient(l.port, s.stack);
          clients.push(c);
          await assert.rejects(c.client.call("hello", "x"), /^Error: no healthy upstream for 'hello'$|no healthy upstream for 'hello'/);
        } finally {
          await l.close();
          await p.close();
        }
      });

      const malformed: Array<{ name: string; bytes: Buffer }> = [
        { name: "a frame size of 0", bytes: Buffer.from([0, 0, 0, 0]) },
        { name: "a frame over 16,384,000 bytes", bytes: Buffer.from([0x01, 0, 0, 0]) },
        { name: "a message without the binary version word", bytes: Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0x41, 1, 0, 0, 0]) },
      ];
      for (const t of malformed) {
        it(`closes the connection on ${t.name} and counts request_decoding_error`, async () => {
          const before = proxy.stats.get("thrift.catalog.request_decoding_error");
          const sock = net.connect({ host: "127.0.0.1", port: listener.port });
          sock.on("error", () => {});
          const closed = new Promise<void>((r) => sock.once("close", () => r()));
          sock.on("data", () => {});
          sock.write(t.bytes);
          await closed;
          assert.equal(proxy.stats.get("thrift.catalog.request_decoding_error"), before + 1);
        });
      }
    }
  });
}
