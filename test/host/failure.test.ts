import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host, PluginLoadError } from "./index.js";
import { FakeConnection, probeWasm } from "./harness.js";

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
