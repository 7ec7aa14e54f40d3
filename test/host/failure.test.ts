import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { wasmNetworkFilter, type WasmFailurePolicy } from "../../controller/envoy/wasm-network-filter.js";
import { pluginFailureOptions, reloadBackoffMs } from "./failure-policy.js";
import { Host, PluginLoadError } from "./index.js";
import { FakeConnection, probeWasm } from "./harness.js";

/** A clock the test moves by hand, and a fixed "random" draw for the backoff jitter. */
function manualClock(draw = 0): { now: () => number; random: () => number; t: number } {
  const c = { t: 0, now: () => c.t, random: () => draw };
  return c;
}

describe("VM failure: trap or proc_exit fails the VM; fail_open decides later traffic", () => {
  const host = new Host();
  after(() => host.close());

  it("fail-closed: the trapping connection and every later one on that VM are closed", async () => {
    const p = await host.loadPlugin({ name: "trap-closed", wasm: probeWasm, configuration: "trap_in=new_connection", vmCount: 1 });
    const first = new FakeConnection(p);
    assert.equal(first.newConnection(), "StopIteration");
    assert.equal(first.closeCalls, 1);
    assert.equal(p.vms[0].failed, true);
    const crit = host.logs.find((l) => l.plugin === "trap-closed" && l.level === "critical");
    assert.match(crit?.message ?? "", /^Wasm VM failed Function: proxy_on_new_connection failed: RuntimeError: unreachable/);
    const later = new FakeConnection(p);
    assert.ok(later.filter, "fail-closed keeps a filter that closes the connection");
    assert.equal(later.newConnection(), "StopIteration");
    assert.equal(later.closeCalls, 1);
    assert.equal(later.data("x"), "StopIteration");
    assert.equal(later.closeCalls, 1, "closed once per connection");
  });

  it("fail-open: the trapping callback continues and later connections skip the filter", async () => {
    const p = await host.loadPlugin({ name: "trap-open", wasm: probeWasm, configuration: "trap_in=data", vmCount: 1, failOpen: true });
    const first = new FakeConnection(p);
    assert.equal(first.newConnection(), "Continue");
    assert.equal(first.data("boom"), "Continue");
    assert.equal(first.closeCalls, 0);
    assert.equal(p.vms[0].failed, true);
    const later = new FakeConnection(p);
    assert.equal(later.filter, undefined);
  });

  it("treats AssemblyScript abort (proc_exit) in a command as a VM failure", async () => {
    const p = await host.loadPlugin({ name: "abort-cmd", wasm: probeWasm, configuration: "on_data=commands", vmCount: 2 });
    const a = new FakeConnection(p);
    const b = new FakeConnection(p);
    a.newConnection();
    b.newConnection();
    assert.equal(a.data("abort\n"), "StopIteration");
    assert.equal(a.closeCalls, 1);
    assert.equal(p.vms[0].failed, true);
    assert.equal(p.vms[1].failed, false, "only the VM that aborted fails");
    assert.match(p.vms[0].failMessage, /proc_exit/);
    assert.equal(b.data("loglevel\n"), "Continue");
  });

  it("runs no callback on a failed VM, not even close/done/delete", async () => {
    const p = await host.loadPlugin({ name: "trap-quiet", wasm: probeWasm, configuration: "on_data=commands\nlog_callbacks=true", vmCount: 1 });
    const c = new FakeConnection(p);
    c.newConnection();
    c.data("trap\n");
    const n = host.logs.filter((l) => l.plugin === "trap-quiet").length;
    c.close();
    assert.equal(host.logs.filter((l) => l.plugin === "trap-quiet").length, n);
  });

  it("rejects the plugin when the canary traps in on_vm_start", async () => {
    await assert.rejects(
      host.loadPlugin({ name: "trap-start", wasm: probeWasm, vmConfiguration: "trap_in=vm_start", vmCount: 1 }),
      (e: unknown) => e instanceof PluginLoadError && /trap-start/.test(e.message) && /proxy_on_vm_start/.test(e.message),
    );
  });

  it("close_stream(Downstream) and continue_stream(Downstream) reach the callbacks after the call", async () => {
    const p = await host.loadPlugin({ name: "probe-stream", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1 });
    const c = new FakeConnection(p);
    c.newConnection();
    const start = host.logs.length;
    c.data("continue downstream\nclose upstream\ncontinue upstream\n");
    assert.deepEqual(
      host.logs.slice(start).map((l) => l.message),
      ["probe: continue status=0", "probe: close status=0", "probe: continue status=12"],
    );
    assert.equal(c.continueCalls, 1);
    assert.equal(c.closeCalls, 1);
  });
});

describe("failure policy: which PluginConfig field decides what (Envoy PluginConfig + cpp-host CHECK_FAIL)", () => {
  const host = new Host();
  after(() => host.close());

  it("failure_policy FAIL_OPEN: connections on the VM when it fails are closed, later ones skip the filter", async () => {
    // Istio's WasmPlugin failStrategy FAIL_OPEN renders exactly this (failure_policy, no fail_open).
    const p = await host.loadPlugin({ name: "policy-open", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, failurePolicy: "FAIL_OPEN" });
    const a = new FakeConnection(p);
    const b = new FakeConnection(p);
    a.newConnection();
    b.newConnection();
    assert.equal(a.data("trap\n"), "StopIteration", "CHECK_FAIL_NET reads fail_open_ (false): the trapping stream fails");
    assert.equal(a.closeCalls, 1);
    assert.equal(b.data("loglevel\n"), "StopIteration", "a connection already on the failed VM fails on its next callback");
    assert.equal(b.closeCalls, 1);
    assert.equal(new FakeConnection(p).filter, undefined, "createContext: failed VM + FAIL_OPEN → no filter");
  });

  it("fail_open true: the same trap leaves every connection flowing", async () => {
    const p = await host.loadPlugin({ name: "legacy-open", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, failOpen: true });
    const a = new FakeConnection(p);
    const b = new FakeConnection(p);
    a.newConnection();
    b.newConnection();
    assert.equal(a.data("trap\n"), "Continue");
    assert.equal(b.data("loglevel\n"), "Continue");
    assert.equal(a.closeCalls + b.closeCalls, 0);
    assert.equal(new FakeConnection(p).filter, undefined);
  });

  it("rejects fail_open together with failure_policy, as Envoy does", async () => {
    await assert.rejects(
      host.loadPlugin({ name: "both", wasm: probeWasm, vmCount: 1, failOpen: true, failurePolicy: "FAIL_CLOSED" }),
      (e: unknown) => e instanceof PluginLoadError && /Unable to create Wasm plugin both: only one of fail_open or failure_policy can be set/.test(e.message),
    );
  });

  it("FAIL_CLOSED (and UNSPECIFIED) never reload: later connections are closed however long one waits", async () => {
    const clock = manualClock();
    const p = await host.loadPlugin({ name: "closed", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, ...clock });
    const a = new FakeConnection(p);
    a.newConnection();
    a.data("trap\n");
    clock.t = 3_600_000;
    const later = new FakeConnection(p);
    assert.equal(later.newConnection(), "StopIteration");
    assert.equal(later.closeCalls, 1);
    assert.deepEqual(p.reloads, { success: 0, failure: 0, backoff: 0 });
  });

  it("FAIL_RELOAD: closed within the backoff since the last load, then a fresh VM serves the next connection", async () => {
    const clock = manualClock();
    const p = await host.loadPlugin({
      name: "reload", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, failurePolicy: "FAIL_RELOAD", ...clock,
    });
    const first = p.vms[0];
    const a = new FakeConnection(p);
    a.newConnection();
    clock.t = 400;
    assert.equal(a.data("trap\n"), "StopIteration");
    assert.equal(a.closeCalls, 1, "fail_open is false: the trapping connection is closed");
    // last_load is the worker's start (t=0); the backoff is 1000 ms (draw 0): no reload at t=999.
    clock.t = 999;
    const early = new FakeConnection(p);
    assert.equal(early.newConnection(), "StopIteration");
    assert.equal(early.closeCalls, 1);
    assert.deepEqual(p.reloads, { success: 0, failure: 0, backoff: 1 });
    clock.t = 1000;
    const fresh = new FakeConnection(p);
    assert.equal(p.reloads.success, 1);
    assert.notEqual(p.vms[0], first, "the failed VM is replaced");
    assert.equal(p.vms[0].failed, false);
    assert.equal(fresh.newConnection(), "Continue");
    assert.equal(fresh.data("loglevel\n"), "Continue");
    assert.equal(fresh.closeCalls, 0);
    // The new VM fails too: the next reload waits a backoff from t=1000, the last load.
    fresh.data("trap\n");
    clock.t = 1999;
    assert.equal(new FakeConnection(p).newConnection(), "StopIteration");
    clock.t = 2000;
    assert.equal(new FakeConnection(p).newConnection(), "Continue");
    assert.deepEqual(p.reloads, { success: 2, failure: 0, backoff: 2 });
  });

  it("FAIL_RELOAD backoff: base from reload_config, jitter up to half of it (JitteredLowerBoundBackOffStrategy)", async () => {
    assert.equal(reloadBackoffMs(1000, () => 0), 1000);
    assert.equal(reloadBackoffMs(1000, () => 499), 1499);
    assert.equal(reloadBackoffMs(1000, () => 500), 1000, "random % (base >> 1)");
    assert.throws(() => reloadBackoffMs(1, () => 0), /must be an integer >= 2/);
    const clock = manualClock(99);
    const p = await host.loadPlugin({
      name: "reload-jitter", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, failurePolicy: "FAIL_RELOAD", reloadBaseIntervalMs: 200, ...clock,
    });
    const a = new FakeConnection(p);
    a.newConnection();
    a.data("trap\n");
    clock.t = 298;
    new FakeConnection(p);
    assert.equal(p.reloads.success, 0, "200 + 99 % 100 = 299 ms");
    clock.t = 299;
    new FakeConnection(p);
    assert.equal(p.reloads.success, 1);
  });

  it("runs what the controller renders: each policy read from the rendered PluginConfig", async () => {
    const rendered = (failurePolicy: WasmFailurePolicy) =>
      (wasmNetworkFilter({ name: "probe", wasmPath: "/p.wasm", failurePolicy }) as any).typed_config.config;
    assert.deepEqual(pluginFailureOptions(rendered("FAIL_OPEN")), { failOpen: true, failurePolicy: "UNSPECIFIED", reloadBaseIntervalMs: 1000 });
    assert.deepEqual(pluginFailureOptions(rendered("FAIL_CLOSED")), { failOpen: false, failurePolicy: "FAIL_CLOSED", reloadBaseIntervalMs: 1000 });
    assert.deepEqual(pluginFailureOptions(rendered("FAIL_RELOAD")), { failOpen: false, failurePolicy: "FAIL_RELOAD", reloadBaseIntervalMs: 1000 });
    assert.equal(pluginFailureOptions({ failure_policy: "FAIL_RELOAD", reload_config: { backoff: { base_interval: "0.250s" } } }).reloadBaseIntervalMs, 250);
    assert.throws(() => pluginFailureOptions({ fail_open: true, failure_policy: "FAIL_OPEN" }), /only one of fail_open or failure_policy can be set/);
    // The rendered FAIL_OPEN keeps a trapping connection open; the rendered FAIL_CLOSED closes it.
    for (const [policy, closes] of [["FAIL_OPEN", 0], ["FAIL_CLOSED", 1]] as const) {
      const p = await host.loadPlugin({
        name: `rendered-${policy}`, wasm: probeWasm, configuration: "on_data=commands", vmCount: 1, ...pluginFailureOptions(rendered(policy)),
      });
      const c = new FakeConnection(p);
      c.newConnection();
      c.data("trap\n");
      assert.equal(c.closeCalls, closes, policy);
    }
  });
});
