/**
 * sniffer through the host emulator without sockets: real client first flights
 * (test/fixtures/captures/*.bin) driven through `host.connection`, in every mode.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";

const snifferWasm = new URL("../../build/sniffer.wasm", import.meta.url).pathname;
const capturesDir = new URL("../fixtures/captures/", import.meta.url).pathname;

/** Expected protocol of each capture for a client-first connection (MySQL needs a greeting). */
function expectedProtocol(name: string): string {
  const table: ReadonlyArray<[string, string]> = [
    ["amqp091-", "amqp"], ["dubbo-", "dubbo"], ["grpc-", "h2c"], ["h2c-", "h2c"], ["http1", "http/1.1"],
    ["kafka-", "kafka"], ["mqtt-", "mqtt"], ["mysql-", "tcp"], ["postgres-", "postgres"], ["redis-", "redis"],
    ["ssh-", "tcp"], ["thrift-", "thrift"], ["tls", "tls"],
  ];
  for (const [prefix, proto] of table) if (name.startsWith(prefix)) return proto;
  throw new Error(`capture ${name} has no expected protocol`);
}

const captures = readdirSync(capturesDir)
  .filter((f) => f.endsWith(".bin"))
  .sort()
  .map((f) => ({ name: f.slice(0, -4), bytes: new Uint8Array(readFileSync(capturesDir + f)) }));

const PROTOCOLS = ["http/1.1", "h2c", "tls", "dubbo", "thrift", "redis", "postgres", "mysql", "kafka", "mqtt", "amqp", "tcp"];
/** Every protocol routed to its own cluster `c-<name>`. */
const routeAll = Object.fromEntries(PROTOCOLS.map((p) => [p, `c-${p.replace(/[/.]/g, "_")}`]));

const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : new TextDecoder().decode(v));

describe("sniffer (host emulator)", () => {
  const host = new Host();
  after(() => host.close());
  let n = 0;

  async function load(config: object | string, logLevel: "info" | "debug" = "info"): Promise<Plugin> {
    return host.loadPlugin({
      name: `sniffer-${++n}`, wasm: snifferWasm, rootId: "sniffer", vmCount: 1, logLevel,
      configuration: typeof config === "string" ? config : JSON.stringify(config),
    });
  }

  const noErrors = () =>
    assert.deepEqual(host.logs.filter((l) => l.level === "error" || l.level === "critical" || l.level === "warn"), []);

  it("route: stops on new connection and routes every capture, whole or one byte per read, to its cluster", async () => {
    const plugin = await load({ mode: "route", routes: routeAll });
    for (const c of captures) {
      const want = expectedProtocol(c.name);
      for (const split of ["whole", "bytewise"] as const) {
        const conn = host.connection({ filters: [plugin] });
        assert.equal(conn.newConnection(), "StopIteration", c.name);
        if (split === "whole") conn.downstreamData(c.bytes);
        else for (const b of c.bytes) conn.downstreamData(Uint8Array.of(b));
        const label = `${c.name} (${split})`;
        assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), want, label);
        assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), routeAll[want], label);
        // Every byte reaches the upstream side once the decision let the chain continue.
        assert.deepEqual(conn.forwarded, c.bytes, label);
        conn.close("Remote");
      }
    }
    for (const p of ["redis", "tls", "http/1.1"]) {
      const count = host.counter(`protocol=.=${p};.;mode=.=route;.;action=.=cluster;.;protomesh_sniffer_connections_total`);
      assert.ok(count !== undefined && count > 0n, p);
    }
    noErrors();
  });

  it("route: publishes SNI and the ALPN list of a TLS ClientHello", async () => {
    const plugin = await load({ mode: "route", routes: { tls: "tls-backend" } });
    const hello = captures.find((c) => c.name === "tls-sni-alpn-h2")!;
    const conn = host.connection({ filters: [plugin] });
    conn.newConnection();
    conn.downstreamData(hello.bytes);
    assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), "tls-backend");
    const sni = text(conn.filterState.get("wasm.protomesh.sni")?.value);
    assert.ok(sni !== undefined && sni.length > 0);
    assert.ok(hello.bytes.includes(sni.charCodeAt(0)));
    const alpn = text(conn.filterState.get("wasm.protomesh.alpn")?.value);
    assert.ok(alpn !== undefined && alpn.split(",").includes("h2"), String(alpn));
    const noSni = host.connection({ filters: [plugin] });
    noSni.newConnection();
    noSni.downstreamData(captures.find((c) => c.name === "tls-no-sni")!.bytes);
    assert.equal(text(noSni.filterState.get("wasm.protomesh.protocol")?.value), "tls");
    assert.equal(noSni.filterState.get("wasm.protomesh.sni"), undefined);
  });

  it("route: unlisted protocols follow default_route, passthrough uses passthrough_cluster", async () => {
    const plugin = await load({ mode: "route", routes: { redis: "passthrough" }, default_route: "fallback", passthrough_cluster: "Orig" });
    const redis = host.connection({ filters: [plugin] });
    redis.newConnection();
    redis.downstreamData(captures.find((c) => c.name === "redis-resp-ioredis")!.bytes);
    assert.equal(text(redis.filterState.get("envoy.tcp_proxy.cluster")?.value), "Orig");
    const ssh = host.connection({ filters: [plugin] });
    ssh.newConnection();
    ssh.downstreamData(captures.find((c) => c.name === "ssh-banner")!.bytes);
    assert.equal(text(ssh.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    assert.equal(text(ssh.filterState.get("envoy.tcp_proxy.cluster")?.value), "fallback");
    assert.equal(host.counter("protocol=.=redis;.;mode=.=route;.;action=.=passthrough;.;protomesh_sniffer_connections_total"), 1n);
  });

  it("route: deny closes the connection and forwards nothing", async () => {
    const plugin = await load({ mode: "route", routes: { redis: "deny" }, stat_prefix: "deny_test" });
    const conn = host.connection({ filters: [plugin] });
    assert.equal(conn.newConnection(), "StopIteration");
    conn.downstreamData(captures.find((c) => c.name === "redis-resp-ioredis")!.bytes);
    assert.equal(conn.closed, true);
    assert.equal(conn.forwarded.length, 0);
    assert.equal(conn.filterState.get("envoy.tcp_proxy.cluster"), undefined);
    assert.equal(host.counter("mode=.=route;.;reason=.=route;.;protomesh_deny_test_denied_total"), 1n);
    assert.equal(host.counter("protocol=.=redis;.;mode=.=route;.;action=.=deny;.;protomesh_deny_test_connections_total"), 1n);
  });

  it("route: the timeout decides tcp on a tick and continues the held bytes", async () => {
    // 300 ms with a 100 ms tick expires on the 4th tick (≥ 300 ms however the start fell).
    // Nothing between load and the last assertion awaits, so no real timer tick interleaves.
    const plugin = await load({ mode: "route", detect_timeout_ms: 300, routes: { tcp: "slow" }, stat_prefix: "to" }, "debug");
    const conn = host.connection({ filters: [plugin] });
    assert.equal(conn.newConnection(), "StopIteration");
    assert.equal(conn.downstreamData(new TextEncoder().encode("GET /")), "StopIteration");
    for (let i = 0; i < 3; i++) plugin.tick();
    assert.equal(conn.forwarded.length, 0);
    assert.equal(conn.filterState.get("wasm.protomesh.protocol"), undefined);
    plugin.tick();
    assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), "slow");
    await new Promise((r) => setImmediate(r)); // continue_stream re-dispatches after the VM call
    assert.equal(text(conn.forwarded), "GET /");
    assert.equal(host.counter("mode=.=route;.;protomesh_to_timeouts_total"), 1n);
    assert.ok(host.logs.some((l) => l.level === "debug" && l.message === "sniffer: protocol=tcp bytes=5 decision=timeout action=cluster"));
  });

  it("route: a half-close decides with what arrived (decision=eos)", async () => {
    const plugin = await load({ mode: "route", routes: { "http/1.1": "web" } }, "debug");
    const conn = host.connection({ filters: [plugin] });
    conn.newConnection();
    conn.downstreamData(new TextEncoder().encode("GET /very-long-path"), true);
    assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "http/1.1");
    assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), "web");
    assert.ok(host.logs.some((l) => l.message === "sniffer: protocol=http/1.1 bytes=19 decision=eos action=cluster"));
  });

  it("route: undecided at the cap counts cap_reached", async () => {
    const plugin = await load({ mode: "route", max_detect_bytes: 8, stat_prefix: "cap" });
    const conn = host.connection({ filters: [plugin] });
    conn.newConnection();
    // A Kafka-shaped size prefix keeps Kafka/Postgres undecided past 8 bytes.
    conn.downstreamData(Uint8Array.of(0, 0, 0, 20, 0, 3, 0, 1, 0, 0, 0, 0));
    assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    assert.equal(host.counter("mode=.=route;.;protomesh_cap_cap_reached_total"), 1n);
  });

  it("observe: never stops, classifies every capture and counts it", async () => {
    const plugin = await load({ mode: "observe", stat_prefix: "obs" });
    for (const c of captures) {
      for (const split of ["whole", "bytewise"] as const) {
        const conn = host.connection({ filters: [plugin] });
        assert.equal(conn.newConnection(), "Continue");
        if (split === "whole") assert.equal(conn.downstreamData(c.bytes), "Continue");
        else for (const b of c.bytes) assert.equal(conn.downstreamData(Uint8Array.of(b)), "Continue");
        const label = `${c.name} (${split})`;
        conn.close("Remote");
        assert.deepEqual(conn.forwarded, c.bytes, label);
        assert.equal(conn.filterState.get("envoy.tcp_proxy.cluster"), undefined, label);
        const want = expectedProtocol(c.name);
        const got = text(conn.filterState.get("wasm.protomesh.protocol")?.value);
        assert.equal(got, want, label);
      }
    }
    const total = PROTOCOLS.reduce(
      (a, p) => a + (host.counter(`protocol=.=${p};.;mode=.=observe;.;action=.=observe;.;protomesh_obs_connections_total`) ?? 0n), 0n);
    assert.equal(total, BigInt(captures.length * 2));
    noErrors();
  });

  it("observe: server-first (upstream bytes first) classifies MySQL after the greeting", async () => {
    const plugin = await load({ mode: "observe" });
    const conn = host.connection({ filters: [plugin] });
    assert.equal(conn.newConnection(), "Continue");
    conn.upstreamData(new TextEncoder().encode("\x4a\x00\x00\x00\x0a8.0.36\x00"));
    conn.downstreamData(captures.find((c) => c.name === "mysql-handshake-response41")!.bytes);
    assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "mysql");
  });

  it("bypass: closes a destination outside allowed_destinations, passes one inside", async () => {
    const plugin = await load({
      mode: "bypass", stat_prefix: "byp",
      allowed_destinations: [{ cidr: "10.0.0.0/8", ports: [6379, "8000-8100"] }, { cidr: "2001:db8::/32" }],
    });
    const cases: ReadonlyArray<[string, number, boolean]> = [
      ["10.1.2.3", 6379, true], ["10.1.2.3", 8050, true], ["10.1.2.3", 22, false], ["192.168.0.1", 6379, false],
      ["2001:db8::5", 1, true], ["2001:db9::5", 1, false],
    ];
    for (const [ip, port, allowed] of cases) {
      const conn = host.connection({ filters: [plugin], destination: { host: ip, port } });
      const status = conn.newConnection();
      const label = `${ip}:${port}`;
      if (allowed) {
        assert.equal(status, "Continue", label);
        assert.equal(conn.downstreamData(captures.find((c) => c.name === "redis-resp-ioredis")!.bytes), "Continue", label);
        assert.equal(conn.closed, false, label);
        assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "redis", label);
      } else {
        assert.equal(conn.closed, true, label);
      }
    }
    assert.equal(host.counter("mode=.=bypass;.;reason=.=destination;.;protomesh_byp_denied_total"), 3n);
  });

  it("rejects bad configurations, naming the field", async () => {
    const bad: ReadonlyArray<[object | string, string]> = [
      [{ mode: "sniff" }, 'sniffer: invalid configuration: "mode" must be one of observe, route, bypass, found "sniff"'],
      [{ max_detect_bytes: 0 }, 'sniffer: invalid configuration: "max_detect_bytes" must be a size in bytes, an integer 1..16384, found 0'],
      [{ detect_timeout_ms: -1 }, 'sniffer: invalid configuration: "detect_timeout_ms" must be a duration in milliseconds, an integer 0..3600000, found -1'],
      [{ routes: { smtp: "x" } }, "sniffer: invalid configuration: unknown protocol \"smtp\" in \"routes\""],
      [{ allowed_destinations: [{ cidr: "10.0.0.0/33" }] }, 'sniffer: invalid configuration: "allowed_destinations[0].cidr" must be an IPv4 or IPv6 CIDR'],
      [{ statPrefix: "x" }, 'sniffer: invalid configuration: unknown field "statPrefix"'],
      ["{", "sniffer: invalid configuration: "],
    ];
    for (const [config, message] of bad) {
      await assert.rejects(load(config), /sniffer/, JSON.stringify(config));
      assert.ok(host.logs.some((l) => l.level === "error" && l.message.startsWith(message)), message);
    }
  });
});
