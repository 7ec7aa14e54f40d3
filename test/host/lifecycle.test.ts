import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host, PluginLoadError, WasmNetworkFilter } from "./index.js";
import { FakeConnection, nullWasm, probeWasm } from "./harness.js";

describe("plugin lifecycle (canary, then one VM per worker)", () => {
  const host = new Host();
  after(() => host.close());

  it("runs on_vm_start and on_configure on the canary and on every worker VM", async () => {
    const before = host.logs.length;
    const p = await host.loadPlugin({
      name: "probe-lc",
      wasm: probeWasm,
      vmConfiguration: "log_callbacks=true",
      configuration: "log_callbacks=true",
      vmCount: 3,
    });
    const mine = host.logs.slice(before).filter((l) => l.plugin === "probe-lc");
    const starts = mine.filter((l) => l.message === "probe: cb=vm_start").map((l) => l.vm);
    const configures = mine.filter((l) => l.message === "probe: cb=configure").map((l) => l.vm);
    assert.deepEqual(starts, [-1, 0, 1, 2]);
    assert.deepEqual(configures, [-1, 0, 1, 2]);
    assert.equal(p.vms.length, 3);
    for (const vm of p.vms) {
      assert.equal(vm.failed, false);
      assert.equal(vm.rootContext.id, 1, "root context id 1 (0 is the VM context)");
      assert.ok(vm.memoryPages() >= 1);
    }
  });

  it("makes the plugin configuration readable only in on_configure", async () => {
    const before = host.logs.length;
    // The probe reads log_callbacks in on_vm_start from the VM configuration or, when the host
    // allows it, from the plugin configuration. Envoy does not allow it.
    await host.loadPlugin({ name: "probe-cfg", wasm: probeWasm, configuration: "log_callbacks=true", vmCount: 1 });
    const mine = host.logs.slice(before).filter((l) => l.plugin === "probe-cfg");
    assert.equal(mine.filter((l) => l.message === "probe: cb=vm_start").length, 0);
    assert.equal(mine.filter((l) => l.message === "probe: cb=configure").length, 2);
  });

  it("rejects a configuration the canary rejects, naming the plugin, and starts no worker", async () => {
    const before = host.logs.length;
    await assert.rejects(
      host.loadPlugin({ name: "probe-reject", wasm: probeWasm, configuration: "reject_config=true", vmCount: 2 }),
      (err: unknown) => err instanceof PluginLoadError && err.message.includes("probe-reject") && err.plugin === "probe-reject",
    );
    const workerLines = host.logs.slice(before).filter((l) => l.plugin === "probe-reject" && l.vm >= 0);
    assert.deepEqual(workerLines, []);
    assert.equal(host.plugins.some((p) => p.name === "probe-reject"), false);
  });

  it("rejects an unknown configuration key with the probe's error line", async () => {
    await assert.rejects(host.loadPlugin({ name: "probe-badkey", wasm: probeWasm, configuration: "nonsense=1" }), PluginLoadError);
    const line = host.logs.find((l) => l.plugin === "probe-badkey" && l.level === "error");
    assert.ok(line?.message.includes("nonsense"), `error line names the key: ${line?.message}`);
  });

  it("spreads connections round-robin over worker VMs and creates contexts 2, 3, …", async () => {
    const p = await host.loadPlugin({ name: "probe-rr", wasm: probeWasm, vmCount: 2 });
    const conns = [new FakeConnection(p), new FakeConnection(p), new FakeConnection(p)];
    const filters = conns.map((c) => c.filter as WasmNetworkFilter);
    assert.deepEqual(
      filters.map((f) => f.vm.index),
      [0, 1, 0],
    );
    assert.deepEqual(
      filters.map((f) => f.ctx.id),
      [2, 2, 3],
    );
    for (const c of conns) assert.equal(c.newConnection(), "Continue");
  });

  it("ends a connection's context with done, log, delete exactly once", async () => {
    const p = await host.loadPlugin({ name: "probe-close", wasm: probeWasm, configuration: "log_callbacks=true", vmCount: 1 });
    const c = new FakeConnection(p);
    c.newConnection();
    c.data("hello");
    c.close("RemoteClose");
    c.close("LocalClose");
    const f = c.filter as WasmNetworkFilter;
    const lines = host.logs.filter((l) => l.plugin === "probe-close" && l.contextId === f.ctx.id).map((l) => l.message);
    assert.deepEqual(lines, [
      "probe: cb=new_connection",
      "probe: cb=downstream_data size=5 eos=0",
      "probe: cb=downstream_close peer=2",
      "probe: cb=done",
      "probe: cb=log",
      "probe: cb=delete",
    ]);
    assert.equal(f.vm.contexts.has(f.ctx.id), false, "context removed after delete");
  });

  it("survives memory growth while handing a large buffer to the module", async () => {
    const p = await host.loadPlugin({ name: "probe-grow", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1 });
    const vm = p.vms[0];
    const pages = vm.memoryPages();
    const c = new FakeConnection(p);
    c.newConnection();
    // An incomplete 4 MiB line is read whole by the probe (malloc → memory.grow), then kept.
    c.data("x".repeat(4 << 20));
    assert.ok(vm.memoryPages() > pages, `memory grew from ${pages} pages`);
    c.buffer.bytes = new Uint8Array(0);
    const start = host.logs.length;
    c.data("loglevel\n");
    assert.deepEqual(host.logs.slice(start).map((l) => l.message), ["probe: loglevel status=0 level=2"]);
    assert.equal(vm.failed, false);
  });

  it("loads the null fixture and passes data through", async () => {
    const p = await host.loadPlugin({ name: "null", wasm: nullWasm, vmCount: 1 });
    const c = new FakeConnection(p);
    assert.equal(c.newConnection(), "Continue");
    assert.equal(c.data("abc"), "Continue");
    assert.equal(p.vms[0].failed, false);
  });
});
