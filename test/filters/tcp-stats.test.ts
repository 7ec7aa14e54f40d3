/**
 * tcp-stats end to end: real clients → TCP listener (tcp-stats wasm + tcp_proxy) → a real
 * upstream server, then the filter's counters, gauge and histogram as Envoy would expose them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { connect, doublingServer, readAll, withTimeout } from "../host/fakes.js";

const tcpStatsWasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;

describe("tcp-stats through the TCP data plane", () => {
  let upstream: Awaited<ReturnType<typeof doublingServer>>;
  let host: Host;

  before(async () => {
    upstream = await doublingServer();
    host = new Host({ clusters: { backend: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } } });
  });

  after(async () => {
    await host.close();
    await upstream.close();
  });

  it("counts connections and exact bytes each way, and the gauge returns to 0", async () => {
    const plugin = await host.loadPlugin({ name: "tcp-stats", wasm: tcpStatsWasm, rootId: "tcp-stats", vmCount: 2 });
    const l = await host.tcpListener({ filterChains: [{ filters: [plugin], tcpProxy: { cluster: "backend" } }] });
    const requests = [1, 1000, 70_000];
    const replies = await Promise.all(
      requests.map(async (size) => {
        const s = await connect(l.port);
        const reading = readAll(s);
        s.end(Buffer.alloc(size, 0x62));
        return reading;
      }),
    );
    for (let i = 0; i < requests.length; i++) assert.equal(replies[i]!.bytes.length, 2 * requests[i]! + 1);
    await withTimeout(Promise.all(l.connections.map((c) => c.closed)), 5000, "connections to close");

    const received = requests.reduce((a, b) => a + b, 0);
    const sent = requests.reduce((a, b) => a + 2 * b + 1, 0);
    assert.equal(host.counter("tcp_stats.connections_opened"), BigInt(requests.length));
    assert.equal(host.counter("tcp_stats.connections_closed"), BigInt(requests.length));
    assert.equal(host.counter("tcp_stats.received_bytes"), BigInt(received));
    assert.equal(host.counter("tcp_stats.sent_bytes"), BigInt(sent));
    assert.equal(host.gauge("tcp_stats.connections_active"), 0n);
    assert.equal(host.histogram("tcp_stats.connection_duration_ms")?.length, requests.length);
    // The data plane's own byte records agree with the filter.
    assert.equal(l.connections.reduce((a, c) => a + c.bytesFromDownstream, 0), received);
    assert.equal(l.connections.reduce((a, c) => a + c.bytesToDownstream, 0), sent);
    assert.deepEqual(host.logs.filter((e) => e.level === "error" || e.level === "critical"), []);
  });
});
