import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { ENVOY_VERSIONS, envoyBehaviour, type EnvoyVersion } from "./envoy-version.js";
import {
  startTcpListener,
  pickFilterChain,
  type TcpConnectionRecord,
  type TcpFilterChain,
  type TcpListener,
  type TcpProxyConfig,
} from "./tcp.js";
import {
  connect,
  fakeFilter,
  fakeHost,
  quietPeriod,
  readAll,
  recordingServer,
  sha256,
  text,
  utf8,
  withTimeout,
  type RecordingServer,
} from "./fakes.js";
import type { DataPlaneHost, FilterStatus, NetworkFilterSource, ReadFilterCallbacks } from "./types.js";

const WAIT_MS = 5000;

/** Polls `cond` every 10 ms, for states no event announces; rejects after `ms`. */
async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function setCluster(cb: ReadFilterCallbacks, name: string): void {
  cb.connection.filterState.set("envoy.tcp_proxy.cluster", {
    value: utf8(name),
    span: "Connection",
    readOnly: false,
  });
}

function bytesOf(server: RecordingServer, i = 0): string {
  return Buffer.concat(server.received[i] ?? []).toString();
}

/** The releases every data-plane test runs against: Istio 1.29's Envoy and the newest. */
const VERSIONS = ["1.37", "1.39"] as const;

/** What one connection through a routing listener did: the echo, the record, who got it. */
interface Routed {
  readonly echoed: string;
  readonly record: TcpConnectionRecord;
  readonly toA: number;
  readonly toB: number;
}

/**
 * The route-test setup shared by every routing case: a listener with `filter` in front of
 * tcp_proxy (default cluster A), one client that sends `payload` and half-closes, and how many
 * connections A and B accepted meanwhile.
 */
async function routeThrough(
  start: (chain: TcpFilterChain) => Promise<TcpListener>,
  servers: { readonly A: RecordingServer; readonly B: RecordingServer },
  filter: NetworkFilterSource,
  tcpProxy: TcpProxyConfig,
  payload: string,
): Promise<Routed> {
  const aBefore = servers.A.accepted;
  const bBefore = servers.B.accepted;
  const l = await start({ filters: [filter], tcpProxy: { cluster: "A", ...tcpProxy } });
  const s = await connect(l.port);
  try {
    const reading = readAll(s);
    s.end(payload);
    const echoed = (await reading).bytes.toString();
    return { echoed, record: l.connections[0]!, toA: servers.A.accepted - aBefore, toB: servers.B.accepted - bBefore };
  } finally {
    s.destroy();
  }
}

/** ON_DOWNSTREAM_DATA as the old route pairing rendered it. */
const ON_DATA: TcpProxyConfig = { upstreamConnectMode: "ON_DOWNSTREAM_DATA", maxEarlyDataBytes: 65536 };
/** The route pairing: IMMEDIATE, reading early. */
const IMMEDIATE_EARLY: TcpProxyConfig = { upstreamConnectMode: "IMMEDIATE", maxEarlyDataBytes: 16_384 };

for (const envoyVersion of VERSIONS) describe(`TCP data plane (listener + tcp_proxy, Envoy ${envoyVersion})`, () => {
  const envoy = envoyBehaviour(envoyVersion);
  let A: RecordingServer;
  let B: RecordingServer;
  let host: DataPlaneHost;
  const listeners: TcpListener[] = [];
  const sockets: net.Socket[] = [];

  before(async () => {
    A = await recordingServer("echo");
    B = await recordingServer("echo");
    host = {
      ...fakeHost({
        A: { endpoints: [{ host: "127.0.0.1", port: A.port }] },
        B: { endpoints: [{ host: "127.0.0.1", port: B.port }] },
      }),
      envoyVersion,
    };
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(listeners.map((l) => l.close()));
    await A.close();
    await B.close();
  });

  async function listen(chain: TcpFilterChain, extra: { originalDst?: { host: string; port: number } } = {}) {
    const l = await startTcpListener(host, { filterChains: [chain], direction: "INBOUND", ...extra });
    listeners.push(l);
    return l;
  }
  async function client(port: number): Promise<net.Socket> {
    const s = await connect(port);
    sockets.push(s);
    return s;
  }

  it("forwards a few MB byte-exact both ways (checksums) and propagates half-close", async () => {
    const l = await listen({ filters: [], tcpProxy: { cluster: "A" } });
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const s = await client(l.port);
    const reading = readAll(s, 20_000);
    s.end(payload);
    const got = await reading;
    assert.equal(got.bytes.length, payload.length);
    assert.equal(sha256(got.bytes), sha256(payload));
    const rec = l.connections[0]!;
    await withTimeout(rec.closed, WAIT_MS, "connection close");
    const upstreamGot = Buffer.concat(A.received[A.received.length - 1]!);
    assert.equal(sha256(upstreamGot), sha256(payload));
    assert.equal(rec.bytesFromDownstream, payload.length);
    assert.equal(rec.bytesToUpstream, payload.length);
    assert.equal(rec.bytesFromUpstream, payload.length);
    assert.equal(rec.bytesToDownstream, payload.length);
    assert.equal(rec.upstreamCluster, "A");
    assert.equal(rec.upstreamConnected, true);
  });

  it("half-close: the upstream sees FIN and can still answer", async () => {
    const sink = await recordingServer("sink");
    try {
      const h2 = { ...fakeHost({ S: { endpoints: [{ host: "127.0.0.1", port: sink.port }] } }), envoyVersion };
      const l = await startTcpListener(h2, { filterChains: [{ filters: [], tcpProxy: { cluster: "S" } }] });
      listeners.push(l);
      const upstreamConn = sink.nextConnection();
      const s = await client(l.port);
      const reading = readAll(s);
      s.end("request");
      const up = await withTimeout(upstreamConn, WAIT_MS, "upstream connection");
      await withTimeout(new Promise((r) => up.once("end", r)), WAIT_MS, "upstream FIN");
      // Downstream half-closed its write side; the reverse direction still flows.
      up.end("response after FIN");
      const got = await reading;
      assert.equal(got.bytes.toString(), "response after FIN");
      assert.equal(bytesOf(sink), "request");
      await withTimeout(l.connections[0]!.closed, WAIT_MS, "close after both half-closes");
    } finally {
      await sink.close();
    }
  });

  it("IMMEDIATE: a filter stopping onNewConnection for data deadlocks (envoy#25604)", async () => {
    const log: string[] = [];
    const waiting = fakeFilter("waiter", log, {
      onNewConnection: () => "StopIteration",
      onData: (buffer) => (buffer.bytes.length >= 5 ? "Continue" : "StopIteration"),
    });
    const acceptedBefore = A.accepted;
    const l = await listen({ filters: [waiting], tcpProxy: { cluster: "A", upstreamConnectMode: "IMMEDIATE" } });
    const s = await client(l.port);
    await new Promise<void>((r) => s.write("hello world", () => r()));
    // Nothing can happen: waiting for absence needs a bounded quiet period.
    await quietPeriod(300);
    assert.deepEqual(log, ["waiter:new"], "the filter never gets data");
    assert.equal(A.accepted, acceptedBefore, "tcp_proxy never connected upstream");
    const rec = l.connections[0]!;
    assert.equal(rec.readDisabled, true);
    assert.equal(rec.upstreamConnected, false);
    assert.equal(rec.bytesFromDownstream, 0);
  });

  /** Stops onNewConnection and routes on first data: what the sniffer does in mode route. */
  const stoppingRouter = (): NetworkFilterSource =>
    fakeFilter("router", [], {
      onNewConnection: () => "StopIteration",
      onData(buffer, _eos, cb): FilterStatus {
        if (text(buffer.bytes).startsWith("to-B")) setCluster(cb, "B");
        return "Continue";
      },
    });
  /** Continues onNewConnection and sets the cluster on first data: too late unless the pick is delayed. */
  const lateRouter = (): NetworkFilterSource =>
    fakeFilter("router", [], {
      onData(_b, _e, cb): FilterStatus {
        setCluster(cb, "B");
        return "Continue";
      },
    });
  const routed = (filter: NetworkFilterSource, tcpProxy: TcpProxyConfig, payload: string): Promise<Routed> =>
    routeThrough(listen, { A, B }, filter, tcpProxy, payload);

  it("IMMEDIATE + max_early_data_bytes: a filter that stops onNewConnection gets the data and its cluster on first data is used", async () => {
    const r = await routed(stoppingRouter(), IMMEDIATE_EARLY, "to-B payload");
    assert.equal(r.echoed, "to-B payload");
    assert.deepEqual([r.toA, r.toB], [0, 1]);
    assert.equal(bytesOf(B, B.accepted - 1), "to-B payload");
    assert.equal(r.record.upstreamCluster, "B");
    assert.equal(r.record.info.upstreamCluster, "B");
    assert.deepEqual(r.record.proxyStates, ["Initialized", "Connecting", "Connected", "Closed"]);
  });

  it("IMMEDIATE + max_early_data_bytes: a filter that continues without any data (a timeout) connects, and a server-first greeting flows", async () => {
    const greeter = net.createServer((sock) => {
      sock.on("error", () => {});
      sock.end("220 greeter ready\r\n");
    });
    await new Promise<void>((r) => greeter.listen(0, "127.0.0.1", () => r()));
    try {
      const h = { ...fakeHost({ G: { endpoints: [{ host: "127.0.0.1", port: (greeter.address() as net.AddressInfo).port }] } }), envoyVersion };
      const waiter = fakeFilter("timeout", [], {
        onNewConnection(cb): FilterStatus {
          // No client byte ever comes: the filter gives up on a timer, as the sniffer's tick does.
          setTimeout(() => cb.continueReading(), 50);
          return "StopIteration";
        },
      });
      const l = await startTcpListener(h, { filterChains: [{ filters: [waiter], tcpProxy: { cluster: "G", ...IMMEDIATE_EARLY } }] });
      listeners.push(l);
      const s = await client(l.port);
      const got = await readAll(s, WAIT_MS);
      s.end();
      assert.equal(got.bytes.toString(), "220 greeter ready\r\n");
      assert.equal(l.connections[0]!.upstreamConnected, true);
      await withTimeout(l.connections[0]!.closed, WAIT_MS, "both sides to close");
    } finally {
      await new Promise<void>((r) => greeter.close(() => r()));
    }
  });

  it("ON_DOWNSTREAM_DATA: a filter that continues without any data leaves the connection waiting for good (no upstream, no greeting)", async () => {
    const aBefore = A.accepted;
    const waiter = fakeFilter("timeout", [], {
      onNewConnection(cb): FilterStatus {
        setTimeout(() => cb.continueReading(), 50);
        return "StopIteration";
      },
    });
    const l = await listen({ filters: [waiter], tcpProxy: { cluster: "A", ...ON_DATA } });
    await client(l.port);
    // Waiting for an absence needs a bounded quiet period, well past the filter's 50 ms.
    await quietPeriod(300);
    assert.equal(A.accepted, aBefore, "onData is never called on an empty buffer, so tcp_proxy never connects");
    assert.deepEqual(l.connections[0]!.proxyStates, ["Initialized", "AwaitingData"]);
  });

  it("ON_DOWNSTREAM_DATA: a filter that stops onNewConnection and sets envoy.tcp_proxy.cluster on first data routes to that cluster", async () => {
    const r = await routed(stoppingRouter(), ON_DATA, "to-B payload");
    assert.equal(r.echoed, "to-B payload");
    assert.deepEqual([r.toA, r.toB], [0, 1]);
    assert.equal(r.record.upstreamCluster, "B");
  });

  it("ON_DOWNSTREAM_DATA: the route is pre-picked at onNewConnection, so a cluster set on first data by a filter that continued onNewConnection is ignored", async () => {
    const r = await routed(lateRouter(), ON_DATA, "hi");
    assert.equal(r.echoed, "hi");
    assert.deepEqual([r.toA, r.toB], [1, 0]);
    assert.equal(r.record.upstreamCluster, "A");
  });

  if (envoy.hasDelayRouteSelectionGuard) {
    it("ON_DOWNSTREAM_DATA with delayRouteSelection (runtime guard tcp_proxy_delay_route_selection) honours the cluster set on first data", async () => {
      const r = await routed(lateRouter(), { ...ON_DATA, delayRouteSelection: true }, "late pick");
      assert.equal(r.echoed, "late pick");
      assert.deepEqual([r.toA, r.toB], [0, 1]);
      assert.equal(r.record.upstreamCluster, "B");
    });
  } else {
    it("delayRouteSelection is refused: this release has no tcp_proxy_delay_route_selection guard", async () => {
      await assert.rejects(listen({ filters: [], tcpProxy: { cluster: "A", ...ON_DATA, delayRouteSelection: true } }), /tcp_proxy_delay_route_selection.*from 1\.39/);
    });
  }

  it("weighted_clusters: the pick ignores envoy.tcp_proxy.cluster set by a filter that stopped onNewConnection", async () => {
    const r = await routed(stoppingRouter(), { ...IMMEDIATE_EARLY, cluster: undefined, weightedClusters: [{ name: "A", weight: 1 }] }, "to-B ignored");
    assert.equal(r.echoed, "to-B ignored");
    assert.deepEqual([r.toA, r.toB], [1, 0]);
    assert.equal(text(r.record.info.filterState.get("envoy.tcp_proxy.cluster")?.value ?? new Uint8Array()), "B");
  });

  it("ON_DOWNSTREAM_DATA does not connect before data arrives", async () => {
    const aBefore = A.accepted;
    const l = await listen({
      filters: [],
      tcpProxy: { cluster: "A", upstreamConnectMode: "ON_DOWNSTREAM_DATA", maxEarlyDataBytes: 16 },
    });
    await client(l.port);
    await quietPeriod(200);
    assert.equal(A.accepted, aBefore);
    assert.deepEqual(l.connections[0]!.events, ["upstream_connect_delayed"]);
  });

  it("PassthroughCluster connects to the original destination given by redirect()", async () => {
    const l = await listen({ filters: [], tcpProxy: { cluster: "PassthroughCluster" } });
    const port = await l.redirect({ host: "127.0.0.1", port: B.port });
    const bBefore = B.accepted;
    const s = await client(port);
    const reading = readAll(s);
    s.end("via original dst");
    assert.equal((await reading).bytes.toString(), "via original dst");
    assert.equal(B.accepted, bBefore + 1);
    const rec = l.connections[0]!;
    assert.deepEqual(rec.info.destination, { host: "127.0.0.1", port: B.port });
    assert.equal(rec.upstreamCluster, "PassthroughCluster");
    assert.equal(rec.upstreamAddress?.port, B.port);
  });

  it("connect failure closes the downstream with UF,URX and counts upstream_cx_connect_fail", async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const h = fakeHost({ D: { endpoints: [{ host: "127.0.0.1", port: deadPort }] } });
    const l = await startTcpListener(h, { filterChains: [{ filters: [], tcpProxy: { cluster: "D" } }] });
    listeners.push(l);
    const s = await client(l.port);
    const got = await readAll(s);
    assert.equal(got.bytes.length, 0);
    const rec = l.connections[0]!;
    await withTimeout(rec.closed, WAIT_MS, "close");
    assert.deepEqual(rec.responseFlags, ["UF", "URX"]);
    assert.equal(l.stats.get("cluster.D.upstream_cx_connect_fail"), 1);
    assert.equal(l.stats.get("cluster.D.upstream_cx_connect_attempts_exceeded"), 1);
    assert.ok(rec.events.includes("close NoFlush"), rec.events.join(","));
  });

  it("an unknown cluster closes the downstream (NC, downstream_cx_no_route)", async () => {
    const l = await listen({ filters: [], tcpProxy: { cluster: "nope" } });
    const s = await client(l.port);
    await readAll(s);
    await withTimeout(l.connections[0]!.closed, WAIT_MS, "close");
    assert.deepEqual(l.connections[0]!.responseFlags, ["NC"]);
    assert.equal(l.stats.get("tcp.tcp.downstream_cx_no_route"), 1);
  });

  it("propagates an upstream reset to the downstream as a reset", async () => {
    const sink = await recordingServer("sink");
    try {
      const h = fakeHost({ S: { endpoints: [{ host: "127.0.0.1", port: sink.port }] } });
      const l = await startTcpListener(h, { filterChains: [{ filters: [], tcpProxy: { cluster: "S" } }] });
      listeners.push(l);
      const upstreamConn = sink.nextConnection();
      const s = await client(l.port);
      const reading = readAll(s);
      s.write("x");
      const up = await withTimeout(upstreamConn, WAIT_MS, "upstream connection");
      // Reset only once tcp_proxy is connected (the byte arrived through it).
      await withTimeout(new Promise((r) => up.once("data", r)), WAIT_MS, "forwarded byte");
      up.resetAndDestroy();
      const got = await reading;
      assert.equal(got.error, "ECONNRESET");
      assert.ok(l.connections[0]!.responseFlags.includes("UR"), l.connections[0]!.events.join(",") + " flags=" + l.connections[0]!.responseFlags.join(","));
    } finally {
      await sink.close();
    }
  });

  it("runs filters on real traffic: upstream→downstream bytes pass onWrite", async () => {
    const log: string[] = [];
    const upper = fakeFilter("upper", log, {
      onWrite(buffer): FilterStatus {
        buffer.bytes = utf8(text(buffer.bytes).toUpperCase());
        return "Continue";
      },
    });
    const l = await listen({ filters: [upper], tcpProxy: { cluster: "A" } });
    const s = await client(l.port);
    const reading = readAll(s);
    s.end("shout");
    assert.equal((await reading).bytes.toString(), "SHOUT");
    assert.ok(log.includes("upper:new"));
    assert.ok(log.some((e) => e.startsWith("upper:event")));
  });

  it("backpressure: a slow upstream pauses downstream reads, and reads resume on drain", async () => {
    const chunks: Buffer[] = [];
    let upSocket: net.Socket | undefined;
    const slow = net.createServer((sock) => {
      upSocket = sock;
      sock.pause();
      sock.on("data", (c: Buffer) => chunks.push(c));
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", () => r()));
    try {
      const h = fakeHost({ slow: { endpoints: [{ host: "127.0.0.1", port: (slow.address() as net.AddressInfo).port }] } });
      const l = await startTcpListener(h, { filterChains: [{ filters: [], tcpProxy: { cluster: "slow" } }] });
      listeners.push(l);
      const payload = randomBytes(16 * 1024 * 1024);
      const s = await client(l.port);
      s.write(payload);
      const paused = (): boolean => l.stats.get("tcp.tcp.downstream_flow_control_paused_reading_total") > 0;
      await until(paused, "downstream reads to pause");
      assert.equal(l.connections[0]!.readDisabled, true);
      upSocket!.resume();
      const all = (): boolean => chunks.reduce((a, c) => a + c.length, 0) >= payload.length;
      await until(all, "all bytes upstream", 20_000);
      assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
      assert.ok(l.stats.get("tcp.tcp.downstream_flow_control_resumed_reading_total") > 0);
    } finally {
      upSocket?.destroy();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });

  it("picks filter chains by destination port, then falls back to the default chain", () => {
    const a: TcpFilterChain = { name: "a", filters: [], tcpProxy: {}, match: { destinationPort: 9000 } };
    const b: TcpFilterChain = { name: "b", filters: [], tcpProxy: {}, match: { applicationProtocols: ["http/1.1"] } };
    const d: TcpFilterChain = { name: "default", filters: [], tcpProxy: {} };
    const facts = (port: number, protos: string[]) => ({
      source: { host: "127.0.0.1", port: 1 },
      destination: { host: "127.0.0.1", port },
      requestedServerName: "",
      applicationProtocols: protos,
    });
    assert.equal(pickFilterChain([a, b], facts(9000, ["http/1.1"]), d)?.name, "a");
    assert.equal(pickFilterChain([a, b], facts(9001, ["http/1.1"]), d)?.name, "b");
    assert.equal(pickFilterChain([a, b], facts(9001, []), d)?.name, "default");
    assert.equal(pickFilterChain([a, b], facts(9001, [])), undefined);
  });
});

for (const envoyVersion of VERSIONS) describe(`TCP data plane with the wasm probe fixture (Envoy ${envoyVersion})`, () => {
  const probeWasm = new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname;
  let A: RecordingServer;
  let B: RecordingServer;
  let wasmHost: import("./index.js").Host;
  const sockets: net.Socket[] = [];

  before(async () => {
    const { Host } = await import("./index.js");
    A = await recordingServer("echo");
    B = await recordingServer("echo");
    wasmHost = new Host({
      envoyVersion,
      clusters: {
        A: { endpoints: [{ host: "127.0.0.1", port: A.port }] },
        B: { endpoints: [{ host: "127.0.0.1", port: B.port }] },
      },
    });
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await wasmHost.close();
    await A.close();
    await B.close();
  });

  async function probe(name: string, configuration: string) {
    return wasmHost.loadPlugin({ name, wasm: probeWasm, rootId: "probe", configuration, vmCount: 1 });
  }
  async function client(port: number): Promise<net.Socket> {
    const s = await connect(port);
    sockets.push(s);
    return s;
  }
  const sizesOf = (plugin: string): number[] =>
    wasmHost.logs
      .filter((e) => e.plugin === plugin && e.message.includes("cb=downstream_data"))
      .map((e) => Number(/size=(\d+)/.exec(e.message)?.[1]));

  it("probe stop_until over a real socket: data_size grows until the threshold, then all bytes forward", async () => {
    const p = await probe("grow", "stop_until=10\nlog_callbacks=true");
    const l = await wasmHost.tcpListener({ filterChains: [{ filters: [p], tcpProxy: { cluster: "A" } }] });
    const s = await client(l.port);
    const echoed: Buffer[] = [];
    const all12 = new Promise<void>((r) =>
      s.on("data", (c: Buffer) => {
        echoed.push(c);
        if (Buffer.concat(echoed).length >= 12) r();
      }),
    );
    for (const part of ["abcd", "efgh", "ijkl"]) {
      const before = sizesOf("grow").length;
      s.write(part);
      await withTimeout(wasmHost.logs.waitFor(`cb=downstream_data size=${before === 0 ? 4 : before === 1 ? 8 : 12}`), WAIT_MS, `callback for ${part}`);
    }
    // No s.end(): the probe pauses every callback with data_size < stop_until, the empty
    // end_stream read included, so a FIN would stay with it.
    await withTimeout(all12, WAIT_MS, "echo of 12 bytes");
    assert.equal(Buffer.concat(echoed).toString(), "abcdefghijkl");
    assert.equal(l.connections[0]!.bytesToUpstream, 12);
    const sizes = sizesOf("grow");
    assert.deepEqual(sizes.slice(0, 3), [4, 8, 12]);
  });

  it("IMMEDIATE: probe on_new_connection=stop never gets data and upstream gets nothing (envoy#25604)", async () => {
    const p = await probe("stuck", "on_new_connection=stop\nlog_callbacks=true");
    const aBefore = A.accepted;
    const l = await wasmHost.tcpListener({ filterChains: [{ filters: [p], tcpProxy: { cluster: "A" } }] });
    const s = await client(l.port);
    await new Promise<void>((r) => s.write("waiting for this\n", () => r()));
    await withTimeout(wasmHost.logs.waitFor("probe: cb=new_connection"), WAIT_MS, "new_connection");
    await quietPeriod(300);
    assert.deepEqual(sizesOf("stuck"), []);
    assert.equal(A.accepted, aBefore);
    assert.equal(l.connections[0]!.readDisabled, true);
  });

  const routed = (filter: NetworkFilterSource, tcpProxy: TcpProxyConfig, payload: string): Promise<Routed> =>
    routeThrough((chain) => wasmHost.tcpListener({ filterChains: [chain] }), { A, B }, filter, tcpProxy, payload);

  for (const [name, tcpProxy] of [["IMMEDIATE + max_early_data_bytes", IMMEDIATE_EARLY], ["ON_DOWNSTREAM_DATA", ON_DATA]] as const) {
    it(`${name}: probe route_cluster=B (stopping onNewConnection) routes the connection to B`, async () => {
      const r = await routed(await probe(`router-${name}`, "on_new_connection=stop\nroute_cluster=B"), tcpProxy, "hello B");
      assert.equal(r.echoed, "hello B");
      assert.deepEqual([r.toA, r.toB], [0, 1]);
      assert.equal(Buffer.concat(B.received.at(-1)!).toString(), "hello B");
      assert.match(wasmHost.logs.messages("probe: route_cluster").at(-1) ?? "", /status=0/);
    });
  }

  it("ON_DOWNSTREAM_DATA: probe route_cluster=B that continued onNewConnection is too late; A gets it", async () => {
    const r = await routed(await probe("late-router", "route_cluster=B"), ON_DATA, "hello");
    assert.equal(r.echoed, "hello");
    assert.deepEqual([r.toA, r.toB], [1, 0]);
    // The filter state was written, tcp_proxy had already picked its route.
    assert.equal(text(r.record.info.filterState.get("envoy.tcp_proxy.cluster")?.value ?? new Uint8Array()), "B");
  });
});

describe("TCP listener configuration, per Envoy release", () => {
  const chain = (tcpProxy: TcpProxyConfig): TcpFilterChain => ({ name: "x", filters: [], tcpProxy: { cluster: "A", ...tcpProxy } });
  const start = (envoyVersion: EnvoyVersion, tcpProxy: TcpProxyConfig) =>
    startTcpListener({ ...fakeHost(), envoyVersion }, { filterChains: [chain(tcpProxy)] });

  for (const envoyVersion of ENVOY_VERSIONS) {
    it(`${envoyVersion}: rejects ON_DOWNSTREAM_DATA without maxEarlyDataBytes, as Envoy does`, async () => {
      await assert.rejects(start(envoyVersion, { upstreamConnectMode: "ON_DOWNSTREAM_DATA" }), /max_early_data_bytes must be set/);
    });
    it(`${envoyVersion}: rejects max_early_data_bytes above 1048576 (validate rule lte)`, async () => {
      await assert.rejects(start(envoyVersion, { maxEarlyDataBytes: 1_048_577 }), /lte 1048576/);
      const l = await start(envoyVersion, { maxEarlyDataBytes: 1_048_576 });
      await l.close();
    });
  }

  it("ON_DOWNSTREAM_TLS_HANDSHAKE without maxEarlyDataBytes: accepted by 1.37, refused from 1.38 (not IMMEDIATE)", async () => {
    const l = await start("1.37", { upstreamConnectMode: "ON_DOWNSTREAM_TLS_HANDSHAKE" });
    await l.close();
    for (const v of ["1.38", "1.39"] as const) {
      await assert.rejects(start(v, { upstreamConnectMode: "ON_DOWNSTREAM_TLS_HANDSHAKE" }), /must be set when upstream_connect_mode is not IMMEDIATE/);
    }
  });

  it("rejects cluster together with weighted_clusters (one oneof)", async () => {
    await assert.rejects(start("1.37", { weightedClusters: [{ name: "A", weight: 1 }] }), /one oneof/);
  });

  it("a host refuses an Envoy release it does not emulate", () => {
    assert.throws(() => envoyBehaviour("1.36"), /valid are 1\.37, 1\.38, 1\.39/);
  });
});
