import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeSetFilterStateArgs, Host, type Plugin } from "./index.js";
import { decodeSetFilterStateArgs } from "./foreign.js";
import { FakeConnection, probeWasm } from "./harness.js";

function run(host: Host, c: FakeConnection, cmd: string): string[] {
  const start = host.logs.length;
  c.data(cmd + "\n");
  return host.logs.slice(start).map((l) => l.message);
}

describe("foreign functions", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "probe-foreign", wasm: probeWasm, configuration: "on_data=commands", vmCount: 1 });
  });
  after(() => host.close());

  it("set_envoy_filter_state writes envoy.tcp_proxy.cluster with the requested life span", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "fs envoy.tcp_proxy.cluster echo"), ["probe: fs envoy.tcp_proxy.cluster status=0"]);
    const e = c.connection.filterState.get("envoy.tcp_proxy.cluster");
    assert.ok(e);
    assert.equal(Buffer.from(e.value).toString(), "echo");
    assert.equal(e.span, "Connection");
  });

  it("answers NotFound for a key without object factory and BadArgument for a rejected value", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "fs my.own.key v"), ["probe: fs my.own.key status=1"]);
    assert.deepEqual(run(host, c, "fs envoy.network.transport_socket.original_dst_address not-an-address"), [
      "probe: fs envoy.network.transport_socket.original_dst_address status=2",
    ]);
    assert.deepEqual(run(host, c, "fs envoy.network.transport_socket.original_dst_address 10.0.0.9:443"), [
      "probe: fs envoy.network.transport_socket.original_dst_address status=0",
    ]);
    assert.equal(c.connection.filterState.has("my.own.key"), false);
  });

  it("answers NotFound for an unknown function and Ok for clear_route_cache", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "foreign no_such_function"), ["probe: foreign no_such_function status=1"]);
    assert.deepEqual(run(host, c, "foreign clear_route_cache"), ["probe: foreign clear_route_cache status=0"]);
    // Empty arguments parse as an empty SetEnvoyFilterStateArguments: path "" has no factory.
    assert.deepEqual(run(host, c, "foreign set_envoy_filter_state"), ["probe: foreign set_envoy_filter_state status=1"]);
  });

  it("routes with route_cluster when data first continues", async () => {
    const p = await host.loadPlugin({ name: "probe-route", wasm: probeWasm, configuration: "route_cluster=blue", vmCount: 1 });
    const c = new FakeConnection(p);
    c.newConnection();
    c.data("x");
    assert.ok(host.logs.some((l) => l.plugin === "probe-route" && l.message === "probe: route_cluster status=0"));
    assert.equal(Buffer.from(c.connection.filterState.get("envoy.tcp_proxy.cluster")!.value).toString(), "blue");
  });

  it("round-trips SetEnvoyFilterStateArguments and rejects malformed protobuf", () => {
    const d = decodeSetFilterStateArgs(encodeSetFilterStateArgs("a.b", "v", 2));
    assert.deepEqual(d && { path: d.path, value: Buffer.from(d.value).toString(), span: d.span }, { path: "a.b", value: "v", span: 2 });
    assert.equal(decodeSetFilterStateArgs(new Uint8Array([0x0a, 0x05, 0x61])), null);
  });
});
