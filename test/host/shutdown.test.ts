/**
 * Plugin shutdown as proxy-wasm-cpp-host runs it (src/wasm.cc WasmBase::startShutdown / done /
 * finishShutdown, src/context.cc ContextBase::onDone / onDelete): host.close() gives each worker
 * VM's root context on_done, then on_delete; when on_done returns false the root context stays
 * until the module calls proxy_done, and its on_delete runs after that call returned. The canary
 * VM, which Envoy discards without a shutdown (WasmHandleBase::canary kills its handle), gets
 * neither. Fixture: test/fixtures/shutdown.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Host } from "./index.js";

const shutdownWasm = new URL("../../build/fixtures/shutdown.wasm", import.meta.url).pathname;

/** The fixture's lines of one plugin, per VM index, in order. */
function linesByVm(host: Host, plugin: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const l of host.logs.filter((x) => x.plugin === plugin && x.message.startsWith("shutdown: "))) {
    const list = out.get(l.vm) ?? [];
    list.push(l.message);
    out.set(l.vm, list);
  }
  return out;
}

describe("plugin shutdown (host.close())", () => {
  it("calls proxy_on_done then proxy_on_delete on every worker VM's root context, not on the canary", async () => {
    const host = new Host();
    const p = await host.loadPlugin({ name: "sd-now", wasm: shutdownWasm, rootId: "shutdown", configuration: "done=now", vmCount: 2 });
    const before = linesByVm(host, "sd-now");
    for (const vm of [-1, 0, 1]) assert.deepEqual(before.get(vm), ["shutdown: configure id=1"], `vm ${vm} before close`);
    await host.close();
    const after = linesByVm(host, "sd-now");
    assert.deepEqual(after.get(-1), ["shutdown: configure id=1"], "the canary is discarded without on_done/on_delete");
    for (const vm of [0, 1]) {
      assert.deepEqual(after.get(vm), ["shutdown: configure id=1", "shutdown: done id=1", "shutdown: delete id=1"], `vm ${vm}`);
    }
    for (const vm of p.vms) {
      assert.equal(vm.pendingDone, false);
      assert.equal(vm.contexts.has(1), false, "the root context is gone");
    }
  });

  it("waits for proxy_done when on_done returns false, and deletes the root context after that call", async () => {
    const host = new Host();
    const p = await host.loadPlugin({ name: "sd-tick", wasm: shutdownWasm, rootId: "shutdown", configuration: "done=tick", vmCount: 2 });
    await host.close();
    const lines = linesByVm(host, "sd-tick");
    for (const vm of [0, 1]) {
      // proxy_done answers Ok (0) inside on_tick; on_delete comes only after on_tick returned.
      assert.deepEqual(
        lines.get(vm),
        ["shutdown: configure id=1", "shutdown: done id=1", "shutdown: tick id=1 status=0", "shutdown: delete id=1"],
        `vm ${vm}`,
      );
    }
    for (const vm of p.vms) assert.equal(vm.pendingDone, false);
    assert.equal(host.logs.some((l) => l.plugin === "sd-tick" && l.level === "warn"), false, "no timeout warning");
  });

  it("proxy_done is NotFound while the plugin runs (nothing pending) and after the root context is gone", async () => {
    const host = new Host();
    const p = await host.loadPlugin({ name: "sd-notfound", wasm: shutdownWasm, rootId: "shutdown", configuration: "done=now", vmCount: 1 });
    const vm = p.vms[0]!;
    assert.equal(vm.done(), 1 /* NotFound */);
    await host.close();
    assert.equal(vm.done(), 1 /* NotFound */);
  });
});
