/**
 * sniffer and the runtime under the host's lifecycle corners: the root context started again
 * by cpp-host, pooled stream contexts reused while others wait in the timeout list, and a
 * malloc the module cannot satisfy. Run on the emulator acting as Envoy 1.37 and as Envoy 1.39.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";

const snifferWasm = new URL("../../build/sniffer.wasm", import.meta.url).pathname;
const tcpStatsWasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;
const capture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../fixtures/captures/${name}.bin`, import.meta.url)));

const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : new TextDecoder().decode(v));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

for (const envoyVersion of ["1.37", "1.39"] as const) describe(`sniffer lifecycle (host emulator, Envoy ${envoyVersion})`, () => {
  const host = new Host({ envoyVersion });
  after(() => host.close());
  let n = 0;

  async function load(config: object, wasm = snifferWasm, rootId = "sniffer"): Promise<Plugin> {
    return host.loadPlugin({
      name: `lifecycle-${++n}`, wasm, rootId, vmCount: 1, logLevel: "info", configuration: JSON.stringify(config),
    });
  }

  const problems = () => host.logs.filter((l) => l.level === "error" || l.level === "critical" || l.level === "warn");

  it("a root context started again (same plugin key) keeps the connections waiting for their timeout", async () => {
    // cpp-host src/wasm.cc WasmBase::start: a root context that already exists for the plugin
    // key gets onStart again, i.e. proxy_on_context_create(root, 0) + proxy_on_vm_start, and
    // getOrCreateThreadLocalPlugin then calls on_configure on it.
    const config = { mode: "route", detect_timeout_ms: 300, routes: { tcp: "slow" }, stat_prefix: "restart" };
    const plugin = await load(config);
    const conn = host.connection({ filters: [plugin] });
    assert.equal(conn.newConnection(), "StopIteration");
    assert.equal(conn.downstreamData(enc("GET /")), "StopIteration");

    const vm = plugin.vms[0]!;
    const root = vm.rootContext;
    vm.invoke(root, "proxy_on_context_create", 0);
    assert.notEqual(vm.invoke(root, "proxy_on_vm_start", 0), 0);
    const bytes = enc(JSON.stringify(config));
    root.tempPluginConfiguration = bytes;
    try {
      assert.notEqual(vm.invoke(root, "proxy_on_configure", bytes.length), 0);
    } finally {
      root.tempPluginConfiguration = null;
    }
    assert.equal(vm.failed, false);

    for (let i = 0; i < 4; i++) plugin.tick();
    assert.equal(text(conn.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    assert.equal(text(conn.filterState.get("envoy.tcp_proxy.cluster")?.value), "slow");
    await new Promise((r) => setImmediate(r)); // continue_stream re-dispatches after the VM call
    assert.equal(text(conn.forwarded), "GET /");
    assert.equal(host.counter("mode=.=route;.;protomesh_restart_timeouts_total"), 1n);
    // A new connection after the restart is served by the same root (pool and list intact).
    const next = host.connection({ filters: [plugin] });
    assert.equal(next.newConnection(), "StopIteration");
    next.downstreamData(capture("tls12-sni"));
    assert.equal(text(next.filterState.get("wasm.protomesh.protocol")?.value), "tls");
    next.close("Remote");
    conn.close("Remote");
    assert.deepEqual(problems(), []);
  });

  it("reuses a closed connection's context while others wait, and every waiting one still times out", async () => {
    const plugin = await load({ mode: "route", detect_timeout_ms: 300, routes: { tcp: "slow", tls: "tls" }, stat_prefix: "pool" });
    // a and b wait; a closes (its context goes to the pool); c gets a's context and waits too.
    const a = host.connection({ filters: [plugin] });
    a.newConnection();
    a.downstreamData(enc("GE"));
    const b = host.connection({ filters: [plugin] });
    b.newConnection();
    b.downstreamData(enc("PO"));
    plugin.tick();
    a.close("Remote");
    const c = host.connection({ filters: [plugin] });
    assert.equal(c.newConnection(), "StopIteration");
    c.downstreamData(enc("HE"));
    // b started a tick before c: b expires on the 4th tick, c on the 5th.
    for (let i = 0; i < 3; i++) plugin.tick();
    assert.equal(text(b.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    assert.equal(c.filterState.get("wasm.protomesh.protocol"), undefined);
    plugin.tick();
    assert.equal(text(c.filterState.get("wasm.protomesh.protocol")?.value), "tcp");
    await new Promise((r) => setImmediate(r));
    assert.equal(text(b.forwarded), "PO");
    assert.equal(text(c.forwarded), "HE");
    assert.equal(host.counter("mode=.=route;.;protomesh_pool_timeouts_total"), 2n);
    // a closed undecided: counted once as tcp with decision=eos, not as a timeout.
    assert.equal(host.counter("protocol=.=tcp;.;mode=.=route;.;action=.=cluster;.;protomesh_pool_connections_total"), 3n);
    b.close("Remote");
    c.close("Remote");

    // A reused context starts clean: no SNI/ALPN from the TLS connection before it.
    const d = host.connection({ filters: [plugin] });
    d.newConnection();
    d.downstreamData(capture("tls-sni-alpn-h2"));
    assert.ok(d.filterState.get("wasm.protomesh.sni") !== undefined);
    d.close("Remote");
    const e = host.connection({ filters: [plugin] });
    e.newConnection();
    e.downstreamData(capture("tls-no-sni"));
    assert.equal(text(e.filterState.get("wasm.protomesh.protocol")?.value), "tls");
    assert.equal(e.filterState.get("wasm.protomesh.sni"), undefined);
    e.close("Remote");
    assert.deepEqual(problems(), []);
  });

  for (const [name, wasm, rootId, config] of [
    ["sniffer", snifferWasm, "sniffer", { mode: "observe", stat_prefix: "big" }],
    ["tcp-stats", tcpStatsWasm, "tcp-stats", {}],
  ] as const) {
    it(`${name}: a malloc larger than the module can hold answers 0 and the VM lives on`, async () => {
      // cpp-host WasmBase::allocMemory treats a 0 from malloc as failure (the copy, so the host call,
      // fails; include/proxy-wasm/wasm.h); an abort would fail the VM for every later connection.
      const plugin = await load(config, wasm, rootId);
      const vm = plugin.vms[0]!;
      assert.equal(vm.alloc(0x7fff_ffff), 0);
      assert.equal(vm.alloc(0xffff_fff0), 0);
      assert.equal(vm.failed, false);
      assert.notEqual(vm.alloc(16), 0);
      const conn = host.connection({ filters: [plugin] });
      assert.equal(conn.newConnection(), "Continue");
      conn.downstreamData(enc("PING\r\n"));
      conn.close("Remote");
      assert.equal(vm.failed, false);
    });
  }
});
