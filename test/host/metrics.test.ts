import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Host, MetricType, WasmResult, type Plugin, type WasmNetworkFilter } from "./index.js";
import { StatsStore, VmMetrics } from "./metrics.js";
import { FakeConnection, probeWasm } from "./harness.js";

function run(host: Host, c: FakeConnection, cmds: string): string[] {
  const start = host.logs.length;
  c.data(cmds);
  return host.logs.slice(start).map((l) => l.message);
}

describe("metrics", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "probe-metrics", wasm: probeWasm, configuration: "on_data=commands", vmCount: 2 });
  });
  after(() => host.close());

  it("allocates ids with the type in the low two bits, starting at 4, 5, 6", () => {
    const m = new VmMetrics(new StatsStore());
    assert.deepEqual(
      [
        m.define(MetricType.Counter, "a").id,
        m.define(MetricType.Gauge, "b").id,
        m.define(MetricType.Histogram, "c").id,
        m.define(MetricType.Counter, "a").id,
      ],
      [4, 5, 6, 8],
    );
    assert.equal(m.define(3, "bad").result, WasmResult.BadArgument);
    assert.equal(m.increment(12, 1n), WasmResult.NotFound);
  });

  it("shares a stat between VMs that define the same name", () => {
    const a = new FakeConnection(plugin);
    const b = new FakeConnection(plugin);
    assert.notEqual((a.filter as WasmNetworkFilter).vm.index, (b.filter as WasmNetworkFilter).vm.index);
    a.newConnection();
    b.newConnection();
    assert.deepEqual(run(host, a, "counter requests 2\n"), ["probe: counter requests status=0"]);
    assert.deepEqual(run(host, b, "counter requests 3\ngetmetric requests\n"), [
      "probe: counter requests status=0",
      "probe: getmetric requests status=0 value=5",
    ]);
    assert.equal(host.counter("requests"), 5n);
    assert.ok(host.stats().some((s) => s.name === "wasmcustom.requests" && s.type === "counter" && s.value === 5n));
  });

  it("answers BadArgument to a counter increment by 0 and to get_metric on a histogram", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "counter zero 0\nhist sizes 10\nhist sizes 30\ngetmetric sizes\n"), [
      "probe: counter zero status=2",
      "probe: hist sizes status=0",
      "probe: hist sizes status=0",
      "probe: getmetric sizes status=2 value=0",
    ]);
    assert.deepEqual(host.histogram("sizes"), [10n, 30n]);
    assert.equal(host.counter("zero"), 0n);
  });

  it("sets gauges with record", () => {
    const c = new FakeConnection(plugin);
    c.newConnection();
    assert.deepEqual(run(host, c, "gauge active 7\ngetmetric active\n"), [
      "probe: gauge active status=0",
      "probe: getmetric active status=0 value=7",
    ]);
    assert.equal(host.gauge("active"), 7n);
  });
});
