import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Host } from "./index.js";
import { probeWasm } from "./harness.js";

describe("tick", () => {
  const host = new Host();
  after(() => host.close());

  it("fires on_tick from real timers on every worker VM's root context", async () => {
    await host.loadPlugin({ name: "probe-tick", wasm: probeWasm, configuration: "tick_ms=10", vmCount: 2 });
    const ticked = (vm: number) =>
      host.logs.waitForEntry((l) => l.plugin === "probe-tick" && l.vm === vm && l.message === "probe: tick n=1", 5000);
    const [t0, t1] = await Promise.all([ticked(0), ticked(1)]);
    assert.equal(t0.contextId, 1);
    assert.equal(t1.contextId, 1);
  });

  it("plugin.tick() fires synchronously on every VM with a tick period, never on the canary", async () => {
    const p = await host.loadPlugin({ name: "probe-tick-manual", wasm: probeWasm, configuration: "tick_ms=3600000", vmCount: 3 });
    const count = () => host.logs.filter((l) => l.plugin === "probe-tick-manual" && l.message.startsWith("probe: tick n=")).length;
    assert.equal(count(), 0);
    p.tick();
    assert.equal(count(), 3);
    p.tick();
    const vms = host.logs.filter((l) => l.plugin === "probe-tick-manual" && l.message === "probe: tick n=2").map((l) => l.vm);
    assert.deepEqual(vms, [0, 1, 2]);
  });

  it("does not tick a plugin that set no period", async () => {
    const p = await host.loadPlugin({ name: "probe-notick", wasm: probeWasm, vmCount: 1 });
    p.tick();
    assert.equal(host.logs.filter((l) => l.plugin === "probe-notick" && l.message.startsWith("probe: tick")).length, 0);
  });
});
