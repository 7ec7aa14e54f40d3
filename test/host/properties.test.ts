import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FilterState, Host, WasmNetworkFilter, WasmResult, type Plugin } from "./index.js";
import { FakeConnection, probeWasm } from "./harness.js";
import { getProperty, setProperty } from "./properties.js";

const hex = (s: string) => Buffer.from(s).toString("hex");
const le64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b.toString("hex");
};

/** Runs `prop` commands and returns status/hex per path from the probe's result lines. */
function props(host: Host, c: FakeConnection, ...paths: string[]): Array<{ status: number; hex: string }> {
  const start = host.logs.length;
  c.data(paths.map((p) => `prop ${p}\n`).join(""));
  return host.logs
    .slice(start)
    .filter((l) => l.message.startsWith("probe: prop "))
    .map((l) => {
      const m = /status=(\d+) hex=([0-9a-f]*)$/.exec(l.message)!;
      return { status: Number(m[1]), hex: m[2] };
    });
}

describe("properties", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "probe-props", wasm: probeWasm, rootId: "probe", vmId: "props-vm", configuration: "on_data=commands", vmCount: 1 });
  });
  after(() => host.close());

  it("encodes connection attributes the way Envoy serializes CEL values", () => {
    const c = new FakeConnection(plugin, {
      source: { host: "10.1.2.3", port: 51000 },
      destination: { host: "10.9.8.7", port: 8080 },
      direction: "OUTBOUND",
      requestedServerName: "svc.example",
    });
    c.newConnection();
    const r = props(
      host,
      c,
      "source.address",
      "source.port",
      "destination.address",
      "destination.port",
      "connection.id",
      "connection.mtls",
      "connection.requested_server_name",
      "xds.listener_direction",
      "xds.filter_chain_name",
      "plugin_name",
      "plugin_root_id",
      "plugin_vm_id",
    );
    assert.deepEqual(r, [
      { status: 0, hex: hex("10.1.2.3:51000") },
      { status: 0, hex: le64(51000n) },
      { status: 0, hex: hex("10.9.8.7:8080") },
      { status: 0, hex: le64(8080n) },
      { status: 0, hex: le64(c.connection.id) },
      { status: 0, hex: "00" },
      { status: 0, hex: hex("svc.example") },
      { status: 0, hex: le64(2n) },
      { status: 0, hex: hex("chain-0") },
      { status: 0, hex: hex("probe-props") },
      { status: 0, hex: hex("probe") },
      { status: 0, hex: hex("props-vm") },
    ]);
  });

  it("answers NotFound for unknown names, unset upstream facts and the dotted single segment", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    const r = props(host, c, "upstream.address", "xds.cluster_name", "no_such_thing", "source.nope");
    assert.deepEqual(r.map((x) => x.status), [1, 1, 1, 1]);
    // The probe always splits on ".", so ask the host directly for the one-segment path.
    const ctx = (c.filter as WasmNetworkFilter).ctx;
    assert.equal(getProperty(ctx, "source.address").result, WasmResult.NotFound);
    assert.equal(getProperty(ctx, "source\0address").result, WasmResult.Ok);
    c.connection.upstreamCluster = "echo";
    assert.deepEqual(props(host, c, "xds.cluster_name"), [{ status: 0, hex: hex("echo") }]);
  });

  it("stores set_property as filter state wasm.<path>, visible to another filter on the connection", () => {
    const shared = new FilterState();
    const a = new FakeConnection(plugin, { filterState: shared });
    const b = new FakeConnection(plugin, { filterState: shared });
    a.newConnection();
    b.newConnection();
    const start = host.logs.length;
    a.data("setprop tenant acme\n");
    assert.ok(host.logs.slice(start).some((l) => l.message === "probe: setprop tenant status=0"));
    const entry = shared.get("wasm.tenant");
    assert.ok(entry, "filter state key wasm.tenant");
    assert.equal(Buffer.from(entry.value).toString(), "acme");
    assert.equal(entry.span, "FilterChain");
    assert.deepEqual(props(host, b, "tenant"), [{ status: 0, hex: hex("acme") }]);
    // Not a CEL value with fields: a second segment is NotFound.
    assert.deepEqual(props(host, b, "tenant.x").map((x) => x.status), [1]);
  });

  it("answers NotFound to set_property from a root context, which has no stream info", () => {
    const root = plugin.vms[0].rootContext;
    assert.equal(setProperty(root, "x", new Uint8Array([1])), WasmResult.NotFound);
    assert.equal(getProperty(root, "source\0address").result, WasmResult.NotFound);
    assert.equal(getProperty(root, "plugin_name").result, WasmResult.Ok);
  });

  it("sets a property from configuration on new connection (set_property key)", async () => {
    const p = await host.loadPlugin({ name: "probe-setprop", wasm: probeWasm, configuration: "set_property=route:blue", vmCount: 1 });
    const c = new FakeConnection(p);
    const start = host.logs.length;
    c.newConnection();
    assert.ok(host.logs.slice(start).some((l) => l.message === "probe: set_property status=0"));
    assert.equal(Buffer.from(c.connection.filterState.get("wasm.route")!.value).toString(), "blue");
  });
});
