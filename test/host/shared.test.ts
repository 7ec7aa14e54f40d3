import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Host, type Plugin, type WasmNetworkFilter } from "./index.js";
import { FakeConnection, probeWasm } from "./harness.js";

function run(host: Host, c: FakeConnection, cmds: string): string[] {
  const start = host.logs.length;
  c.data(cmds);
  return host.logs.slice(start).map((l) => l.message);
}

describe("shared data and shared queues", () => {
  const host = new Host();
  let plugin: Plugin;
  let a: FakeConnection;
  let b: FakeConnection;
  before(async () => {
    plugin = await host.loadPlugin({ name: "probe-shared", wasm: probeWasm, vmId: "shared-vm", configuration: "on_data=commands", vmCount: 2 });
    a = new FakeConnection(plugin);
    b = new FakeConnection(plugin);
    a.newConnection();
    b.newConnection();
  });
  after(() => host.close());

  it("runs the two connections on different VMs", () => {
    assert.deepEqual(
      [a, b].map((c) => (c.filter as WasmNetworkFilter).vm.index),
      [0, 1],
    );
  });

  it("answers NotFound for a missing key", () => {
    assert.deepEqual(run(host, a, "sget missing\n"), ["probe: sget missing status=1 value= cas=0"]);
  });

  it("detects a CAS conflict between two VMs", () => {
    assert.deepEqual(run(host, a, "sset k one 0\n"), ["probe: sset k status=0"]);
    const got = run(host, b, "sget k\n")[0];
    const cas = Number(/cas=(\d+)$/.exec(got)![1]);
    assert.match(got, /^probe: sget k status=0 value=one cas=\d+$/);
    assert.deepEqual(run(host, b, `sset k two ${cas}\n`), ["probe: sset k status=0"]);
    // VM 0 still holds the old cas: CasMismatch (8); cas 0 is unconditional.
    assert.deepEqual(run(host, a, `sset k three ${cas}\n`), ["probe: sset k status=8"]);
    assert.deepEqual(run(host, a, "sset k four 0\n"), ["probe: sset k status=0"]);
    assert.match(run(host, b, "sget k\n")[0], /^probe: sget k status=0 value=four cas=\d+$/);
  });

  it("delivers on_queue_ready asynchronously to the registering VM's root context", async () => {
    const reg = run(host, a, "qreg jobs\n")[0];
    const token = Number(/token=(\d+)$/.exec(reg)![1]);
    assert.match(reg, /^probe: qreg jobs status=0 token=\d+$/);
    assert.deepEqual(run(host, b, "qres shared-vm jobs\n"), [`probe: qres jobs status=0 token=${token}`]);
    assert.deepEqual(run(host, b, "qres shared-vm nope\n"), ["probe: qres nope status=1 token=0"]);
    assert.deepEqual(run(host, b, `qenq ${token} hello\n`), ["probe: qenq status=0"]);
    assert.equal(host.logs.messages("queue_ready").length, 0, "not delivered inside the enqueuing call");
    const ready = await host.logs.waitFor(`probe: queue_ready token=${token} value=hello`, 5000);
    assert.equal(ready.vm, 0);
    assert.equal(ready.contextId, plugin.vms[0].rootContext.id);
  });
});
