/**
 * The sniffer end to end with real peers: real clients → (hashing tap) → host TCP listener
 * (sniffer wasm + tcp_proxy) → (hashing tap) → real servers (redis-server, PostgreSQL, MariaDB,
 * node http/1.1 / h2c / tls, grpc-js, Apache thrift, a hessian2 Dubbo provider).
 *
 * For each pair: the protocol the sniffer wrote (filter state `wasm.protomesh.protocol`), its
 * per-protocol counter, its debug line, and byte-exact forwarding: the taps in front of and
 * behind the listener saw the same bytes (sha256 + length) in both directions, and so did the
 * listener's own connection record. Then the modes of docs/design/sniffer-contract.md: `route`
 * (Dubbo and Thrift on one port to two clusters; MariaDB, server-first, through the sniffer's
 * timeout to the default route), `bypass` (Redis on an HTTP port goes to its original destination
 * while HTTP keeps the HTTP chain). tcp_proxy is configured as the controller renders it
 * (controller/sniffer/pairing.ts). Everything runs on the emulator acting as Envoy 1.37 (Istio
 * 1.29) and as Envoy 1.39 (Istio 1.31); the peers start once for both.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";
import { withTimeout } from "../host/fakes.js";
import type { TcpConnectionRecord, TcpFilterChain, TcpListener, TcpProxyConfig } from "../host/tcp.js";
import type { PostgresServer } from "../peers/postgres.js";
import { daemons } from "../peers/daemons.js";
import type { DaemonPeer } from "../peers/process.js";
import { mysqlRoundTrip, postgresRoundTrip, redisRoundTrip } from "../peers/clients.js";
import { h2cRequest, http1Request, startH2cServer, startHttp1Server } from "../peers/http.js";
import { grpcEcho, startGrpcServer } from "../peers/grpc.js";
import { startTlsServer, tlsEcho, TLS_SERVER_NAME, type TlsPeer } from "../peers/tls.js";
import { startThriftServer, thriftEcho, type ThriftPeer, type ThriftStack } from "../peers/thrift.js";
import { dubboInvoke, startDubboProvider, type DubboPeer } from "../peers/dubbo.js";
import { pairTcpProxy } from "../../controller/sniffer/pairing.js";
import { snifferConfig } from "../../controller/sniffer/config.js";
import { flow, startTap, type Tap } from "../peers/tap.js";
import type { Closable } from "../peers/listen.js";

const snifferWasm = new URL("../../build/sniffer.wasm", import.meta.url).pathname;

const decode = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString("utf8"));

/** What the sniffer wrote on a connection (set_property → filter state `wasm.<path>`). */
function snifferState(c: TcpConnectionRecord, key: "protocol" | "sni" | "alpn"): string | undefined {
  return decode(c.info.filterState.get(`wasm.protomesh.${key}`)?.value);
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A stat name carries `key=value` either as an Istio extractable tag (`key=.=value;.;`) or as `;key=value`. */
function hasTag(name: string, key: string, value: string): boolean {
  return name.includes(`${key}=.=${value};.;`) || new RegExp(`(^|;)${escapeRe(key)}=${escapeRe(value)}(;|$)`).test(name);
}

/**
 * The sniffer's per-protocol connection counter for one mode, summed over its other tags
 * (action). The stat name's final form lives in the filter README; this follows its tags
 * (`protocol`, `mode`) and fails listing every stat when none of that shape exists.
 */
function detectedCounter(host: Host, protocol: string, mode = "observe"): bigint {
  const counters = host.stats().filter((s) => s.type === "counter" && s.name.includes("sniffer") && /connections_total|detected/.test(s.name));
  assert.ok(counters.length > 0, `no sniffer connection counter among: ${host.stats().map((s) => s.name).join(", ")}`);
  return counters.filter((s) => hasTag(s.name, "protocol", protocol) && hasTag(s.name, "mode", mode)).reduce((a, s) => a + s.value, 0n);
}

/** tcp_proxy behind a route-mode sniffer, as the controller pairs it (pairing.ts). */
function routeTcpProxy(configuration: Record<string, unknown>): TcpProxyConfig {
  const paired = pairTcpProxy("route", snifferConfig("route", configuration));
  assert.notEqual(paired.upstreamConnectMode, "ON_DOWNSTREAM_TLS_HANDSHAKE");
  return { upstreamConnectMode: paired.upstreamConnectMode as "IMMEDIATE" | "ON_DOWNSTREAM_DATA", maxEarlyDataBytes: paired.maxEarlyDataBytes };
}

interface Upstream {
  /** The real server's port. */
  readonly port: number;
  /** Tap in front of it: the listener's cluster points here. */
  readonly tap: Tap;
}

describe("sniffer with real protocol peers", () => {
  const peers = daemons();
  let postgres: PostgresServer;
  let tlsPeer: TlsPeer;
  let dubbo: DubboPeer;
  const thrift = new Map<ThriftStack, ThriftPeer>();
  const upstreams = new Map<string, Upstream>();
  const closers: Array<() => Promise<void>> = [];

  async function upstream(name: string, port: number): Promise<void> {
    const tap = await startTap(port);
    closers.push(tap.close);
    upstreams.set(name, { port, tap });
  }

  /** Why a daemon's upstream is absent: its start failed, so only the tests that use it fail. */
  const startErrors = new Map<string, unknown>();

  async function daemonUpstream<T extends { port: number; stop(): Promise<void> }>(name: string, peer: DaemonPeer<T>): Promise<T | undefined> {
    if (peer.skip !== false) return undefined;
    try {
      const server = await peer.ready();
      await upstream(name, server.port);
      return server;
    } catch (err) {
      startErrors.set(name, err);
      return undefined;
    }
  }

  function upstreamOf(name: string): Upstream {
    const u = upstreams.get(name);
    if (u === undefined) throw startErrors.get(name) ?? new Error(`no upstream ${name}`);
    return u;
  }

  /** The skip option of a test against `upstream`: set when its server's Debian package is missing. */
  const daemonOf = new Map<string, { readonly skip: string | false }>([["redis", peers.redis], ["postgres", peers.postgres], ["mariadb", peers.mariadb]]);
  const skipFor = (upstream: string): string | false => daemonOf.get(upstream)?.skip ?? false;

  before(async () => {
    // Daemons start in parallel, each once per file; a missing package skips only its tests.
    peers.start();
    const h1 = await startHttp1Server();
    const h2 = await startH2cServer();
    const grpc = await startGrpcServer();
    tlsPeer = await startTlsServer();
    dubbo = await startDubboProvider();
    for (const stack of ["framed-binary", "buffered-binary", "framed-compact"] as ThriftStack[]) {
      const t = await startThriftServer(stack);
      thrift.set(stack, t);
      closers.push(t.close);
    }
    for (const c of [h1, h2, grpc, tlsPeer, dubbo] as Closable[]) closers.push(c.close);
    await daemonUpstream("redis", peers.redis);
    const pg = await daemonUpstream("postgres", peers.postgres);
    if (pg !== undefined) postgres = pg;
    await daemonUpstream("mariadb", peers.mariadb);
    await upstream("http1", h1.port);
    await upstream("h2c", h2.port);
    await upstream("grpc", grpc.port);
    await upstream("tls", tlsPeer.port);
    await upstream("dubbo", dubbo.port);
    for (const [stack, t] of thrift) await upstream(`thrift-${stack}`, t.port);
  });

  after(async () => {
    await Promise.all([...closers.map((c) => c()), peers.stop()]);
  });

  for (const envoyVersion of ["1.37", "1.39"] as const) describe(`on Envoy ${envoyVersion}`, () => {
    let host: Host;
    let observe: Plugin;

    before(async () => {
      host = new Host({ envoyVersion });
      for (const [name, u] of upstreams) host.addCluster(name, { endpoints: [{ host: "127.0.0.1", port: u.tap.port }] });
      observe = await host.loadPlugin({
        name: "sniffer-observe",
        wasm: snifferWasm,
        rootId: "sniffer",
        configuration: JSON.stringify({ mode: "observe" }),
        vmCount: 2,
        logLevel: "debug",
      });
    });

    after(async () => {
      await host?.close();
    });

    /**
     * Runs `client` against a fresh listener (via a front tap) whose chain is `chain`, waits until
     * every connection closed, then checks byte-exact forwarding against the upstream's tap.
     */
    async function through(
      chain: TcpFilterChain,
      upstreamName: string,
      client: (port: number) => Promise<void>,
    ): Promise<{ listener: TcpListener; connections: ReadonlyArray<TcpConnectionRecord> }> {
      const listener = await host.tcpListener({ filterChains: [chain] });
      const front = await startTap(listener.port);
      closers.push(front.close);
      const back = upstreamOf(upstreamName).tap;
      const backBefore = back.connections.length;
      await client(front.port);
      await withTimeout(
        Promise.all([...front.connections.map((c) => c.closed), ...listener.connections.map((c) => c.closed)]),
        10_000,
        `${upstreamName}: connections to close`,
      );
      const backConns = back.connections.slice(backBefore);
      await withTimeout(Promise.all(backConns.map((c) => c.closed)), 10_000, `${upstreamName}: upstream tap to close`);
      assert.ok(listener.connections.length > 0, "the client connected through the listener");
      assert.equal(front.connections.length, listener.connections.length);
      assert.equal(backConns.length, listener.connections.length, "every downstream connection reached the server, once");
      for (let i = 0; i < listener.connections.length; i++) {
        const rec = listener.connections[i]!;
        const f = front.connections[i]!;
        const b = backConns[i]!;
        const up = flow(f.up);
        const down = flow(b.down);
        assert.ok(up.length > 0, `connection ${i}: client sent bytes`);
        assert.deepEqual(flow(b.up), up, `connection ${i}: client → server bytes forwarded exactly`);
        assert.deepEqual(flow(f.down), down, `connection ${i}: server → client bytes forwarded exactly`);
        assert.equal(rec.bytesFromDownstream, up.length);
        assert.equal(rec.bytesToUpstream, up.length);
        assert.equal(rec.bytesFromUpstream, down.length);
        assert.equal(rec.bytesToDownstream, down.length);
      }
      return { listener, connections: listener.connections };
    }

    function assertDetected(connections: ReadonlyArray<TcpConnectionRecord>, protocol: string, countBefore: bigint): void {
      for (const c of connections) assert.equal(snifferState(c, "protocol"), protocol, `connection ${c.id}: wasm.protomesh.protocol`);
      assert.equal(detectedCounter(host, protocol) - countBefore, BigInt(connections.length), `detected counter for ${protocol}`);
      assert.ok(
        host.logs.some((e) => e.message.startsWith(`sniffer: protocol=${protocol} `) && e.message.includes("action=observe")),
        `a debug line "sniffer: protocol=${protocol} ... action=observe"`,
      );
    }

    const observeChain = (cluster: string): TcpFilterChain => ({ name: `observe-${cluster}`, filters: [observe], tcpProxy: { cluster } });

    // One row per real client → real server pair (observe mode, tcp_proxy IMMEDIATE).
    const pairs: Array<{ name: string; upstream: string; protocol: string; run: (port: number) => Promise<void> }> = [
      {
        name: "node http/1.1",
        upstream: "http1",
        protocol: "http/1.1",
        run: async (port) => assert.deepEqual(await http1Request(port, "/h1?x=1", "payload"), { status: 200, body: "POST /h1?x=1 7" }),
      },
      {
        name: "node http2 h2c prior knowledge",
        upstream: "h2c",
        protocol: "h2c",
        run: async (port) => assert.deepEqual(await h2cRequest(port, "/h2", "abc"), { status: 200, body: "POST /h2 3" }),
      },
      {
        name: "@grpc/grpc-js over h2c",
        upstream: "grpc",
        protocol: "h2c",
        run: async (port) => assert.equal((await grpcEcho(port, Buffer.from("ping"))).toString(), "echo:ping"),
      },
      ...(["framed-binary", "buffered-binary", "framed-compact"] as ThriftStack[]).map((stack) => ({
        name: `Apache thrift ${stack}`,
        upstream: `thrift-${stack}`,
        protocol: "thrift",
        run: async (port: number) => assert.equal(await thriftEcho(port, stack, `hello ${stack}`), `echo:hello ${stack}`),
      })),
      {
        name: "hessian.js Dubbo request",
        upstream: "dubbo",
        protocol: "dubbo",
        run: async (port) => assert.equal(await dubboInvoke(port, "org.protomesh.Greeter", "sayHello", "mesh"), "sayHello:mesh"),
      },
      {
        name: "ioredis → redis-server",
        upstream: "redis",
        protocol: "redis",
        run: async (port) => assert.equal(await redisRoundTrip(port, "sniffer:key", "value-1"), "value-1"),
      },
      {
        name: "pg → PostgreSQL",
        upstream: "postgres",
        protocol: "postgres",
        run: async (port) => assert.equal(await postgresRoundTrip(port, postgres.user, "hello through envoy"), "hello through envoy"),
      },
      {
        name: "mysql2 → MariaDB (server-first) with observe + IMMEDIATE never hangs",
        upstream: "mariadb",
        protocol: "mysql",
        run: async (port) => assert.equal(await withTimeout(mysqlRoundTrip(port, "hello maria"), 10_000, "mysql2 round trip"), "hello maria"),
      },
    ];

    for (const p of pairs) {
      it(`observe: ${p.name} is detected as ${p.protocol} and forwarded byte for byte`, { skip: skipFor(p.upstream) }, async () => {
        const countBefore = detectedCounter(host, p.protocol);
        const { connections } = await through(observeChain(p.upstream), p.upstream, p.run);
        assertDetected(connections, p.protocol, countBefore);
      });
    }

    it("observe: node tls is detected as tls with SNI and ALPN read, forwarded byte for byte", async () => {
      const countBefore = detectedCounter(host, "tls");
      const payload = Buffer.from("over tls ".repeat(100));
      const sessionsBefore = tlsPeer.sessions.length;
      const { connections } = await through(observeChain("tls"), "tls", async (port) => {
        const r = await tlsEcho(port, tlsPeer.cert, payload, ["h2", "http/1.1"]);
        assert.equal(r.authorized, true);
        assert.equal(r.alpn, "h2");
        assert.deepEqual(r.echoed, payload);
      });
      assertDetected(connections, "tls", countBefore);
      assert.equal(snifferState(connections[0]!, "sni"), TLS_SERVER_NAME);
      assert.equal(snifferState(connections[0]!, "alpn"), "h2,http/1.1");
      // The server saw the same handshake: the sniffer read the ClientHello without touching it.
      assert.deepEqual(tlsPeer.sessions.slice(sessionsBefore), [{ servername: TLS_SERVER_NAME, alpn: "h2" }]);
    });

    it("route (tcp_proxy as paired: IMMEDIATE + max_early_data_bytes): Dubbo → cluster A, Thrift → cluster B on one port", async () => {
      const configuration = { mode: "route", routes: { dubbo: "dubbo", thrift: "thrift-framed-binary" }, default_route: "deny" };
      const route = await host.loadPlugin({
        name: "sniffer-route",
        wasm: snifferWasm,
        rootId: "sniffer",
        configuration: JSON.stringify(configuration),
        logLevel: "debug",
      });
      const listener = await host.tcpListener({
        filterChains: [{ name: "route", filters: [route], tcpProxy: routeTcpProxy(configuration) }],
      });
      const routedBefore = [detectedCounter(host, "dubbo", "route"), detectedCounter(host, "thrift", "route")];
      const dubboCalls = dubbo.requests.length;
      const thriftCalls = thrift.get("framed-binary")!.calls.length;
      assert.equal(await dubboInvoke(listener.port, "org.protomesh.Greeter", "sayHello", "routed"), "sayHello:routed");
      assert.equal(await thriftEcho(listener.port, "framed-binary", "routed"), "echo:routed");
      await withTimeout(Promise.all(listener.connections.map((c) => c.closed)), 10_000, "routed connections to close");
      assert.equal(dubbo.requests.length, dubboCalls + 1);
      assert.equal(thrift.get("framed-binary")!.calls.length, thriftCalls + 1);
      const [d, t] = listener.connections;
      assert.equal(d!.upstreamCluster, "dubbo");
      assert.equal(t!.upstreamCluster, "thrift-framed-binary");
      assert.equal(snifferState(d!, "protocol"), "dubbo");
      assert.equal(snifferState(t!, "protocol"), "thrift");
      assert.equal(decode(d!.info.filterState.get("envoy.tcp_proxy.cluster")?.value), "dubbo");
      assert.equal(decode(t!.info.filterState.get("envoy.tcp_proxy.cluster")?.value), "thrift-framed-binary");
      assert.deepEqual(
        [detectedCounter(host, "dubbo", "route") - routedBefore[0]!, detectedCounter(host, "thrift", "route") - routedBefore[1]!],
        [1n, 1n],
      );
    });

    it("bypass: Redis that hits an HTTP port goes to its original destination, HTTP keeps the HTTP chain", { skip: skipFor("redis") }, async () => {
      const bypass = await host.loadPlugin({
        name: "sniffer-bypass",
        wasm: snifferWasm,
        rootId: "sniffer",
        configuration: JSON.stringify({ mode: "bypass" }),
        logLevel: "debug",
      });
      const redisTap = upstreamOf("redis").tap;
      const httpTap = upstreams.get("http1")!.tap;
      const listener = await host.tcpListener({
        listenerFilters: ["http_inspector"],
        filterChains: [
          {
            name: "http",
            match: { applicationProtocols: ["http/1.0", "http/1.1", "h2c"] },
            filters: [],
            tcpProxy: { cluster: "http1" },
          },
        ],
        defaultFilterChain: { name: "tcp-bypass", filters: [bypass], tcpProxy: { cluster: "PassthroughCluster" } },
      });
      const redisBefore = redisTap.connections.length;
      const httpBefore = httpTap.connections.length;
      const redirected = await listener.redirect({ host: "127.0.0.1", port: redisTap.port });
      const redisCount = detectedCounter(host, "redis", "bypass");

      assert.equal(await redisRoundTrip(redirected, "bypass:key", "through"), "through");
      assert.deepEqual(await http1Request(listener.port, "/still-http"), { status: 200, body: "GET /still-http 0" });
      await withTimeout(Promise.all(listener.connections.map((c) => c.closed)), 10_000, "bypass connections to close");

      const redisConn = listener.connections.find((c) => c.filterChainName === "tcp-bypass");
      const httpConn = listener.connections.find((c) => c.filterChainName === "http");
      assert.ok(redisConn, `a connection on the default chain; chains: ${listener.connections.map((c) => c.filterChainName).join(",")}`);
      assert.ok(httpConn, "a connection on the HTTP chain");
      assert.equal(redisConn.upstreamCluster, "PassthroughCluster");
      assert.deepEqual(redisConn.upstreamAddress, { host: "127.0.0.1", port: redisTap.port });
      assert.equal(snifferState(redisConn, "protocol"), "redis");
      assert.equal(detectedCounter(host, "redis", "bypass") - redisCount, 1n);
      assert.equal(snifferState(httpConn, "protocol"), undefined, "no sniffer on the HTTP chain");
      // Byte for byte to the original destination: what the Redis server's tap saw is what the
      // listener read from the client and what it wrote back.
      const redisUp = redisTap.connections.slice(redisBefore);
      assert.equal(redisUp.length, 1);
      await withTimeout(redisUp[0]!.closed, 5000, "redis tap to close");
      assert.equal(flow(redisUp[0]!.up).length, redisConn.bytesFromDownstream);
      assert.equal(flow(redisUp[0]!.down).length, redisConn.bytesToDownstream);
      assert.equal(httpTap.connections.length - httpBefore, 1);
    });

    it("route on a server-first port: MariaDB through the data plane, sniffer timeout → tcp → default route → the greeting flows", { skip: skipFor("mariadb") }, async () => {
      const configuration = { mode: "route", routes: { tls: "deny" }, default_route: "mariadb", detect_timeout_ms: 200 };
      const route = await host.loadPlugin({
        name: "sniffer-route-mysql",
        wasm: snifferWasm,
        rootId: "sniffer",
        configuration: JSON.stringify(configuration),
        logLevel: "debug",
      });
      const tcpProxy = routeTcpProxy(configuration);
      assert.equal(tcpProxy.upstreamConnectMode, "IMMEDIATE");
      const mariaTap = upstreamOf("mariadb").tap;
      const tapBefore = mariaTap.connections.length;
      const listener = await host.tcpListener({ filterChains: [{ name: "route", filters: [route], tcpProxy }] });
      // mysql2 waits for the server greeting: it comes once the sniffer's timeout let tcp_proxy connect.
      assert.equal(await withTimeout(mysqlRoundTrip(listener.port, "hello route", 5000), 10_000, "mysql2 round trip"), "hello route");
      await withTimeout(Promise.all(listener.connections.map((c) => c.closed)), 10_000, "the MariaDB connection to close");
      const c = listener.connections[0]!;
      assert.equal(snifferState(c, "protocol"), "tcp", "no client byte before the timeout: the sniffer decided tcp");
      assert.equal(c.upstreamCluster, "mariadb", "tcp follows default_route");
      assert.equal(decode(c.info.filterState.get("envoy.tcp_proxy.cluster")?.value), "mariadb");
      assert.ok(c.bytesToDownstream > 0, "the client got the greeting and the answer");
      assert.equal(mariaTap.connections.length, tapBefore + 1, "MariaDB saw one connection");
      assert.ok(
        host.logs.some((e) => e.message.startsWith("sniffer: protocol=tcp ") && e.message.includes("decision=timeout")),
        'a debug line "sniffer: protocol=tcp ... decision=timeout"',
      );
    });
  });
});
