/**
 * The emulator's network RBAC filter (rbac.ts) against Envoy's behaviour: decisions per matcher,
 * when it decides (first data, not new connection), what a denied client sees, stats.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { rbacNetworkFilter } from "./rbac.js";
import { fakeHost, readAll, recordingServer, utf8, withTimeout, type RecordingServer } from "./fakes.js";
import { startTcpListener, type TcpListener } from "./tcp.js";
import { FilterState, type ConnectionInfo, type DataBuffer } from "./types.js";

const TYPE = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

function info(source: string, destination = "10.0.0.5", port = 8080): ConnectionInfo {
  return {
    destination: { host: destination, port },
    filterChainName: "",
    filterState: new FilterState(),
    id: 7n,
    listenerDirection: "INBOUND",
    requestedServerName: "",
    source: { host: source, port: 40000 },
  };
}

/** One filter instance over fake callbacks: returns what onNewConnection and onData answered. */
function drive(config: unknown, conn: ConnectionInfo, datas = 1): { onNew: string; onData: string[]; closes: number; factory: ReturnType<typeof rbacNetworkFilter> } {
  const factory = rbacNetworkFilter(config);
  let closes = 0;
  const filter = factory.create({ closeConnection: () => closes++, connection: conn, continueReading: () => {} })!;
  const onNew = filter.onNewConnection();
  const buf: DataBuffer = { bytes: utf8("*1\r\n$4\r\nPING\r\n") };
  const onData: string[] = [];
  for (let i = 0; i < datas; i++) onData.push(filter.onData(buf, false));
  return { closes, factory, onData, onNew };
}

const cidr = (address_prefix: string, prefix_len: number): Record<string, unknown> => ({ address_prefix, prefix_len });
const rbac = (action: string, policies: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  "@type": TYPE, rules: { action, policies }, stat_prefix: "t.", ...extra,
});
const policy = (principals: unknown[], permissions: unknown[] = [{ any: true }]): Record<string, unknown> => ({ permissions, principals });

describe("host: network RBAC filter (Envoy rbac_filter.cc, matchers.cc)", () => {
  it("decides on the first data, never on a new connection; ALLOW needs a match, DENY refuses one", () => {
    const allowTen = rbac("ALLOW", { a: policy([{ direct_remote_ip: cidr("10.0.0.0", 8) }]) });
    const ok = drive(allowTen, info("10.1.2.3"));
    assert.deepEqual([ok.onNew, ok.onData, ok.closes], ["Continue", ["Continue"], 0]);
    assert.equal(ok.factory.stats.get("t.rbac.allowed"), 1);
    const no = drive(allowTen, info("192.168.0.1"));
    assert.deepEqual([no.onNew, no.onData, no.closes], ["Continue", ["StopIteration"], 1]);
    assert.equal(no.factory.stats.get("t.rbac.denied"), 1);
    assert.deepEqual(no.factory.decisions.map((d) => d.policy), ["none"]);

    const denyTen = rbac("DENY", { d: policy([{ remote_ip: cidr("10.0.0.0", 8) }]) });
    assert.deepEqual(drive(denyTen, info("10.1.2.3")).onData, ["StopIteration"]);
    assert.deepEqual(drive(denyTen, info("10.1.2.3")).factory.decisions[0]?.policy, "d");
    assert.deepEqual(drive(denyTen, info("11.1.2.3")).onData, ["Continue"]);
    // LOG never refuses.
    assert.deepEqual(drive(rbac("LOG", { l: policy([{ any: true }]) }), info("1.2.3.4")).onData, ["Continue"]);
  });

  it("empty policies: ALLOW denies everything, DENY allows everything; no rules: no engine, nothing counted", () => {
    assert.deepEqual(drive(rbac("ALLOW", {}), info("10.0.0.1")).onData, ["StopIteration"]);
    assert.deepEqual(drive(rbac("DENY", {}), info("10.0.0.1")).onData, ["Continue"]);
    const none = drive({ "@type": TYPE, stat_prefix: "t" }, info("10.0.0.1"));
    assert.deepEqual(none.onData, ["Continue"]);
    assert.equal(none.factory.stats.get("t.rbac.allowed"), 0, "statPrefixJoin adds the dot; nothing counted without an engine");
  });

  it("matchers: and/or/not of principals and permissions, destination port and IP, CIDR by family", () => {
    const table: Array<[unknown[], unknown[], string, boolean]> = [
      [[{ not_id: { any: true } }], [{ any: true }], "10.0.0.1", false],
      [[{ not_id: { or_ids: { ids: [{ direct_remote_ip: cidr("10.9.0.0", 16) }] } } }], [{ any: true }], "10.9.1.1", false],
      [[{ not_id: { or_ids: { ids: [{ direct_remote_ip: cidr("10.9.0.0", 16) }] } } }], [{ any: true }], "10.8.1.1", true],
      [[{ and_ids: { ids: [{ direct_remote_ip: cidr("10.0.0.0", 8) }, { remote_ip: cidr("10.1.0.0", 16) }] } }], [{ any: true }], "10.2.0.1", false],
      [[{ or_ids: { ids: [{ direct_remote_ip: cidr("10.0.0.0", 8) }, { remote_ip: cidr("192.0.2.7", 32) }] } }], [{ any: true }], "192.0.2.7", true],
      [[{ any: true }], [{ destination_port: 8080 }], "1.1.1.1", true],
      [[{ any: true }], [{ destination_port: 9090 }], "1.1.1.1", false],
      [[{ any: true }], [{ not_rule: { or_rules: { rules: [{ destination_port: 9090 }] } } }], "1.1.1.1", true],
      [[{ any: true }], [{ and_rules: { rules: [{ destination_port: 8080 }, { destination_ip: cidr("10.0.0.0", 24) }] } }], "1.1.1.1", true],
      [[{ any: true }], [{ destination_ip: cidr("10.0.1.0", 24) }], "1.1.1.1", false],
      // IPv4 peer seen through a dual-stack socket counts as IPv4; an IPv6 range never matches IPv4.
      [[{ direct_remote_ip: cidr("127.0.0.0", 8) }], [{ any: true }], "::ffff:127.0.0.2", true],
      [[{ direct_remote_ip: cidr("::", 0) }], [{ any: true }], "10.0.0.1", false],
      [[{ direct_remote_ip: cidr("fd00::", 8) }], [{ any: true }], "fd12::1", true],
      [[{ direct_remote_ip: cidr("fd00::", 8) }], [{ any: true }], "fe80::1", false],
      [[{ direct_remote_ip: cidr("0.0.0.0", 0) }], [{ any: true }], "203.0.113.9", true],
    ];
    for (const [principals, permissions, source, allowed] of table) {
      const r = drive(rbac("ALLOW", { p: policy(principals, permissions) }), info(source));
      assert.deepEqual(r.onData, [allowed ? "Continue" : "StopIteration"], JSON.stringify({ permissions, principals, source }));
    }
  });

  it("ONE_TIME_ON_FIRST_BYTE evaluates once per connection, CONTINUOUS on every data", () => {
    const cfg = rbac("ALLOW", { a: policy([{ any: true }]) });
    assert.equal(drive(cfg, info("1.1.1.1"), 3).factory.stats.get("t.rbac.allowed"), 1);
    assert.equal(drive({ ...cfg, enforcement_type: "CONTINUOUS" }, info("1.1.1.1"), 3).factory.stats.get("t.rbac.allowed"), 3);
  });

  it("refuses configuration it does not emulate, naming the field", () => {
    assert.throws(() => rbacNetworkFilter({ "@type": TYPE }), /stat_prefix: is required/);
    assert.throws(() => rbacNetworkFilter({ ...rbac("ALLOW", {}), shadow_rules: {} }), /typed_config\.shadow_rules: not emulated/);
    assert.throws(() => rbacNetworkFilter(rbac("ALLOW", { a: policy([{ authenticated: {} }]) })), /principals\[0\]\.authenticated: principal not emulated/);
    assert.throws(() => rbacNetworkFilter(rbac("ALLOW", { a: policy([{ any: true }], [{ requested_server_name: {} }]) })), /permission not emulated/);
    assert.throws(() => rbacNetworkFilter(rbac("ALLOW", { a: { permissions: [], principals: [{ any: true }] } })), /permissions: must be a non-empty list/);
    assert.throws(() => rbacNetworkFilter({ ...rbac("ALLOW", {}), "@type": "type.googleapis.com/x.Y" }), /is not type\.googleapis\.com/);
  });
});

describe("host: network RBAC on a real listener", () => {
  let upstream: RecordingServer;
  let listener: TcpListener;
  after(async () => {
    await listener?.close();
    await upstream?.close();
  });

  function connectFrom(localAddress: string, port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ allowHalfOpen: true, host: "127.0.0.1", localAddress, port });
      s.once("error", reject);
      s.once("connect", () => resolve(s));
    });
  }

  it("a denied source is closed without a byte; an allowed one is proxied; upstream never sees denied bytes", async () => {
    upstream = await recordingServer("echo");
    const host = fakeHost({ echo: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } });
    const filter = rbacNetworkFilter(rbac("ALLOW", { loopback1: policy([{ direct_remote_ip: cidr("127.0.0.1", 32) }]) }));
    listener = await startTcpListener(host, { filterChains: [{ filters: [filter], name: "rbac", tcpProxy: { cluster: "echo" } }] });

    const allowed = await connectFrom("127.0.0.1", listener.port);
    const allowedRead = readAll(allowed);
    allowed.end(Buffer.from("hello"));
    const a = await withTimeout(allowedRead, 10_000, "allowed echo");
    assert.equal(a.bytes.toString(), "hello");

    const denied = await connectFrom("127.0.0.2", listener.port);
    const deniedRead = readAll(denied);
    denied.write(Buffer.from("let me in"));
    const d = await withTimeout(deniedRead, 10_000, "denied close");
    assert.equal(d.bytes.length, 0, "a denied client reads nothing");
    await Promise.all(listener.connections.map((c) => c.closed));
    assert.equal(filter.stats.get("t.rbac.allowed"), 1);
    assert.equal(filter.stats.get("t.rbac.denied"), 1);
    assert.deepEqual(filter.decisions.map((x) => [x.allowed, x.policy]), [[true, "loopback1"], [false, "none"]]);
    const deniedRecord = listener.connections[1]!;
    assert.equal(deniedRecord.bytesToUpstream, 0, "nothing of the denied client reaches the upstream");
    assert.equal(deniedRecord.info.source.host, "127.0.0.2");
    assert.ok(upstream.received.every((chunks) => !Buffer.concat(chunks).toString().includes("let me in")));
  });

  it("a client that sends nothing is not judged: tcp_proxy (IMMEDIATE) already connected, a server greeting reaches it", async () => {
    const greeter = net.createServer((s) => s.end("220 ready\r\n"));
    await new Promise<void>((r) => greeter.listen(0, "127.0.0.1", () => r()));
    try {
      const host = fakeHost({ greeter: { endpoints: [{ host: "127.0.0.1", port: (greeter.address() as net.AddressInfo).port }] } });
      const filter = rbacNetworkFilter(rbac("ALLOW", {}));
      const l = await startTcpListener(host, { filterChains: [{ filters: [filter], tcpProxy: { cluster: "greeter" } }] });
      try {
        const silent = await connectFrom("127.0.0.1", l.port);
        const got = await withTimeout(readAll(silent), 10_000, "greeting");
        assert.equal(got.bytes.toString(), "220 ready\r\n", "RBAC decides on first data only (rbac_filter.cc onData)");
        assert.equal(filter.decisions.length, 0);
        silent.destroy();
      } finally {
        await l.close();
      }
    } finally {
      await new Promise<void>((r) => greeter.close(() => r()));
    }
  });
});
