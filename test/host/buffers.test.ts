import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Host, type Plugin } from "./index.js";
import { probeWasm } from "./harness.js";

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const bytes = (s: string) => new TextEncoder().encode(s);

// Envoy's set_buffer_bytes on network data (context.cc Buffer::copyFrom): start 0 + length 0
// prepends, start 0 + length >= size replaces, start >= size appends, anything else is
// BadArgument. The probe relies on "replace" to drop the commands it executed.
describe("network buffer writes from wasm", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "probe-buffers", wasm: probeWasm, rootId: "probe", vmId: "buffers", configuration: "on_data=commands", vmCount: 1 });
  });
  after(() => host.close());

  it("forwards only the unfinished tail after executed commands are replaced away", () => {
    const c = host.connection({ filters: [plugin] });
    c.newConnection();
    assert.equal(c.downstreamData(bytes("loglevel\nloglev")), "Continue");
    assert.equal(text(c.forwarded), "loglev");
    assert.ok(host.logs.some((l) => l.message.startsWith("probe: loglevel status=0")));
    assert.ok(!host.logs.some((l) => l.message.includes("dropping executed commands failed")));
  });

  it("stop_until holds only the first N bytes: the empty end-of-stream read still passes", async () => {
    const p = await host.loadPlugin({ name: "probe-stop", wasm: probeWasm, rootId: "probe", vmId: "stop", configuration: "stop_until=4", vmCount: 1 });
    const c = host.connection({ filters: [p] });
    c.newConnection();
    assert.equal(c.downstreamData(bytes("ab")), "StopIteration");
    assert.equal(c.downstreamData(bytes("cd")), "Continue");
    assert.equal(text(c.forwarded), "abcd");
    assert.equal(c.downstreamData(new Uint8Array(0), true), "Continue");
    assert.equal(c.forwardedEndStream, true);
  });
});
