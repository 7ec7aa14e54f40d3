import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTestConnection } from "./connection.js";
import { fakeFilter, fakeHost, text, utf8 } from "./fakes.js";
import type { FilterStatus } from "./types.js";

const host = fakeHost();

describe("network filter manager (Envoy FilterManagerImpl)", () => {
  it("runs onNewConnection in order and defers later filters while one stops", () => {
    const log: string[] = [];
    const a = fakeFilter("a", log, { onNewConnection: () => "StopIteration" });
    const b = fakeFilter("b", log);
    const c = createTestConnection(host, { filters: [a, b] });
    assert.equal(c.newConnection(), "StopIteration");
    assert.deepEqual(log, ["a:new"]);
    // A read goes to a (already initialized: no second onNewConnection); a's Continue from
    // onData lets iteration reach b, which is initialized only now.
    c.downstreamData(utf8("xy"));
    assert.deepEqual(log, ["a:new", "a:data 2", "b:new", "b:data 2"]);
    assert.equal(text(c.forwarded), "xy");
  });

  it("continueReading resumes at the next filter: onNewConnection, then onData with the buffer", () => {
    const log: string[] = [];
    const a = fakeFilter("a", log, { onNewConnection: () => "StopIteration", onData: () => "StopIteration" });
    const b = fakeFilter("b", log);
    const c = createTestConnection(host, { filters: [a, b] });
    c.newConnection();
    c.downstreamData(utf8("hello"));
    a.instances[0]!.continueReading();
    assert.deepEqual(log, ["a:new", "a:data 5", "b:new", "b:data 5"]);
    assert.equal(text(c.forwarded), "hello");
  });

  it("keeps the read buffer while a filter stops: sizes grow, then the whole buffer forwards", () => {
    const log: string[] = [];
    const sizes: number[] = [];
    const stopUntil = 10;
    const a = fakeFilter("a", log, {
      onData(buffer): FilterStatus {
        sizes.push(buffer.bytes.length);
        return buffer.bytes.length < stopUntil ? "StopIteration" : "Continue";
      },
    });
    const c = createTestConnection(host, { filters: [a] });
    assert.equal(c.newConnection(), "Continue");
    assert.equal(c.downstreamData(utf8("abcd")), "StopIteration");
    assert.equal(c.buffered, 4);
    assert.equal(c.downstreamData(utf8("efgh")), "StopIteration");
    assert.equal(c.downstreamData(utf8("ijkl")), "Continue");
    assert.deepEqual(sizes, [4, 8, 12]);
    assert.equal(text(c.forwarded), "abcdefghijkl");
    assert.equal(c.buffered, 0);
    // After a Continue the buffer was drained: the next read starts from empty.
    c.downstreamData(utf8("mnopqrstuvw"));
    assert.deepEqual(sizes, [4, 8, 12, 11]);
  });

  it("a filter that rewrites the buffer changes what the next filter sees", () => {
    const log: string[] = [];
    const a = fakeFilter("a", log, {
      onData(buffer): FilterStatus {
        buffer.bytes = utf8(text(buffer.bytes).toUpperCase());
        return "Continue";
      },
    });
    const c = createTestConnection(host, { filters: [a] });
    c.newConnection();
    c.downstreamData(utf8("abc"));
    assert.equal(text(c.forwarded), "ABC");
  });

  it("iterates write filters in reverse order and holds written bytes while one stops", () => {
    const log: string[] = [];
    let stop = true;
    const a = fakeFilter("a", log);
    const b = fakeFilter("b", log, { onWrite: () => (stop ? "StopIteration" : "Continue") });
    const c = createTestConnection(host, { filters: [a, b] });
    c.newConnection();
    assert.equal(c.upstreamData(utf8("12")), "StopIteration");
    stop = false;
    assert.equal(c.upstreamData(utf8("345"), true), "Continue");
    assert.deepEqual(log.filter((l) => l.includes("write")), ["b:write 2", "b:write 5 eos", "a:write 5 eos"]);
    assert.equal(text(c.written), "12345");
    assert.equal(c.writtenEndStream, true);
  });

  it("propagates end_stream (half-close) to the end of the chain", () => {
    const log: string[] = [];
    const c = createTestConnection(host, { filters: [fakeFilter("a", log)] });
    c.newConnection();
    c.downstreamData(utf8("q"), true);
    assert.deepEqual(log, ["a:new", "a:data 1 eos"]);
    assert.equal(c.forwardedEndStream, true);
  });

  it("raises RemoteClose / LocalClose to every filter and stops iteration after a close", () => {
    const log: string[] = [];
    const a = fakeFilter("a", log, {
      onData(_b, _e, cb): FilterStatus {
        cb.closeConnection();
        return "Continue";
      },
    });
    const b = fakeFilter("b", log);
    const c = createTestConnection(host, { filters: [a, b] });
    c.newConnection();
    c.downstreamData(utf8("z"));
    assert.equal(c.closed, true);
    assert.deepEqual(log, ["a:new", "b:new", "a:data 1", "a:event LocalClose", "b:event LocalClose"]);

    const log2: string[] = [];
    const c2 = createTestConnection(host, { filters: [fakeFilter("x", log2), fakeFilter("y", log2)] });
    c2.newConnection();
    c2.close("Remote");
    assert.deepEqual(log2.slice(-2), ["x:event RemoteClose", "y:event RemoteClose"]);
    // A closed connection takes no more data.
    c2.downstreamData(utf8("late"));
    assert.equal(c2.forwarded.length, 0);
  });

  it("skips a factory that returns undefined (fail-open plugin with a failed VM)", () => {
    const log: string[] = [];
    const dead = { name: "dead", create: () => undefined };
    const c = createTestConnection(host, { filters: [dead, fakeFilter("a", log)] });
    c.newConnection();
    c.downstreamData(utf8("ok"));
    assert.equal(text(c.forwarded), "ok");
  });

  it("accepts plugins (objects with networkFilterFactory()) as chain entries", () => {
    const log: string[] = [];
    const plugin = { networkFilterFactory: () => fakeFilter("p", log) };
    const c = createTestConnection(host, { filters: [plugin], terminal: "none" });
    c.newConnection();
    c.downstreamData(utf8("abc"));
    assert.deepEqual(log, ["p:new", "p:data 3"]);
    // No terminal filter drains: the bytes stay in the connection's read buffer.
    assert.equal(c.buffered, 3);
    assert.equal(c.info.id > 0n, true);
  });
});

describe("network filter manager with the wasm probe fixture", () => {
  it("StopIteration keeps the buffer: probe stop_until sees growing data_size, then the whole buffer forwards", async () => {
    const { Host } = await import("./index.js");
    const wasmHost = new Host();
    try {
      const probe = await wasmHost.loadPlugin({
        name: "probe",
        wasm: new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname,
        rootId: "probe",
        configuration: "stop_until=10\nlog_callbacks=true",
        vmCount: 1,
      });
      const c = createTestConnection(wasmHost, { filters: [probe] });
      assert.equal(c.newConnection(), "Continue");
      assert.equal(c.downstreamData(utf8("abcd")), "StopIteration");
      assert.equal(c.downstreamData(utf8("efgh")), "StopIteration");
      assert.equal(c.downstreamData(utf8("ijkl")), "Continue");
      const sizes = wasmHost.logs
        .messages("cb=downstream_data")
        .map((m) => Number(/size=(\d+)/.exec(m)?.[1]));
      assert.deepEqual(sizes, [4, 8, 12]);
      assert.equal(text(c.forwarded), "abcdefghijkl");
      c.close("Remote");
      assert.ok(wasmHost.logs.messages("cb=downstream_close").length === 1);
    } finally {
      await wasmHost.close();
    }
  });

  it("set_property in one filter is visible as wasm.<path> to the next filter of the chain", async () => {
    const { Host } = await import("./index.js");
    const wasmHost = new Host();
    try {
      const wasm = new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname;
      const setter = await wasmHost.loadPlugin({ name: "setter", wasm, rootId: "probe", configuration: "set_property=team:blue", vmCount: 1 });
      const reader = await wasmHost.loadPlugin({ name: "reader", wasm, rootId: "probe", configuration: "on_data=commands", vmCount: 1 });
      const c = createTestConnection(wasmHost, { filters: [setter, reader] });
      c.newConnection();
      assert.equal(text(c.filterState.get("wasm.team")?.value ?? new Uint8Array()), "blue");
      c.downstreamData(utf8("prop team\n"));
      const line = wasmHost.logs.messages("probe: prop team").at(-1);
      assert.equal(line, `probe: prop team status=0 hex=${Buffer.from("blue").toString("hex")}`);
    } finally {
      await wasmHost.close();
    }
  });
});

describe("test connection outputs", () => {
  it("keepOutputs=false counts bytes without keeping them (bench/fuzz)", () => {
    const c = createTestConnection(host, { filters: [], keepOutputs: false });
    c.newConnection();
    c.downstreamData(utf8("abc"));
    c.upstreamData(utf8("de"));
    assert.equal(c.forwardedLength, 3);
    assert.equal(c.writtenLength, 2);
    assert.equal(c.forwarded.length, 0);
  });
});
