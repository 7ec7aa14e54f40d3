/**
 * The thrift filter on streams the whole-filter fuzz target (fuzz/thrift-filter.ts) found it
 * trapping on, each cut down to the few reads that reach the bug, and on framed payloads larger
 * than any read (skipped by count, never copied):
 *   - a reply whose begin passed before a call with its seq id was refused: the old code took
 *     that call at the reply's end and rewrote bytes the host no longer held (a negative edit
 *     offset: `abort: Invalid length` / out-of-bounds copy in proxy_on_upstream_data);
 *   - a refused call's THeader reply whose begin and end came in different reads: the old code
 *     read the reply's header back from bytes it had already dropped;
 *   - a server message of type call with a refused call's seq id: the old code held the upstream
 *     for it and never let go.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";
import { flushTelemetry } from "./rpc-telemetry-fixtures.js";

const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;

const CONFIG = {
  stat_prefix: "regress",
  routing: "request",
  rules: [
    { name: "deny-delete", match: { method: { exact: "delete" } }, policy: { deny: true, message: "delete is disabled" } },
    { name: "catalog", match: { service: { prefix: "Cat" } }, route: { cluster: "catalog" } },
  ],
};

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A strict-binary message whose struct has one string field `fid` (no transport). */
function binary(name: string, type: number, seq: number, fid: number, text: string | Buffer): Buffer {
  const value = typeof text === "string" ? Buffer.from(text) : text;
  const field = Buffer.concat([Buffer.from([11, fid >> 8, fid & 0xff]), i32(value.length), value, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x80, 1, 0, type]), i32(Buffer.byteLength(name)), Buffer.from(name), i32(seq), field]);
}

function framed(message: Buffer): Buffer {
  return Buffer.concat([i32(message.length), message]);
}

/**
 * THeader frame around `message` (HeaderFormat.md): magic, flags, seq id, header words, then
 * protocol id binary (0), no transforms, one info header x-k: v, padded to 4 bytes.
 */
function theader(message: Buffer, seq: number): Buffer {
  const info = Buffer.concat([Buffer.from([0, 0, 1, 1, 3]), Buffer.from("x-k"), Buffer.from([1]), Buffer.from("v")]);
  const data = Buffer.concat([info, Buffer.alloc((4 - (info.length % 4)) % 4)]);
  const fixed = Buffer.concat([Buffer.from([0x0f, 0xff, 0, 0]), i32(seq), Buffer.from([0, data.length / 4])]);
  return Buffer.concat([i32(fixed.length + data.length + message.length), fixed, data, message]);
}

/** Our TApplicationException { 1: message, 2: type INTERNAL_ERROR (6) } (exception.ts). */
function appException(name: string, seq: number, message: string): Buffer {
  const struct = Buffer.concat([Buffer.from([11, 0, 1]), i32(Buffer.byteLength(message)), Buffer.from(message), Buffer.from([8, 0, 2]), i32(6), Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x80, 1, 0, 3]), i32(Buffer.byteLength(name)), Buffer.from(name), i32(seq), struct]);
}

describe("thrift filter regressions (fuzz-found streams, payloads skipped by count)", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "thrift-regress", wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify(CONFIG), vmCount: 1 });
  });
  after(() => host.close());

  const alive = (): void => assert.equal(plugin.vms.some((vm) => vm.failed), false, "the VM is alive");
  const requestBytes = (): bigint[] => {
    const stat = host.stats().find((s) => s.type === "histogram" && s.name.includes("istio_request_bytes") && s.name.includes("catalog"));
    return stat ? host.histogram(stat.name.replace(/^wasmcustom\./, "")) ?? [] : [];
  };

  it("passes a reply whose begin passed before a call with its seq id was refused", () => {
    const unframed = (m: Buffer): Buffer => m;
    for (const wrap of [framed, (m: Buffer) => theader(m, 7), unframed]) {
      const reply = wrap(binary("delete", 2, 7, 0, "done"));
      const c = host.connection({ filters: [plugin] });
      c.newConnection();
      // The reply's begin and part of its payload, before any call: nothing to hold, it passes.
      c.upstreamData(reply.subarray(0, reply.length - 3));
      c.downstreamData(wrap(binary("delete", 1, 7, 1, "k")));
      c.upstreamData(reply.subarray(reply.length - 3));
      alive();
      assert.deepEqual(Buffer.from(c.written), reply, "the reply that was streaming passes as the server wrote it");
      // The refused call's own answer, when it comes, is still replaced.
      c.upstreamData(wrap(binary("$$$$$$", 3, 7, 1, "unknown method")));
      alive();
      const ours = appException("delete", 7, "delete is disabled");
      assert.deepEqual(Buffer.from(c.written).subarray(reply.length), wrap(ours));
      c.close("Remote");
    }
  });

  it("rewrites a refused call's THeader reply split after its begin, keeping the server's header", () => {
    const call = theader(binary("delete", 1, 9, 1, "k"), 9);
    const answer = theader(binary("$$$$$$", 3, 9, 1, "unknown method $$$$$$ ".repeat(20)), 9);
    const expected = theader(appException("delete", 9, "delete is disabled"), 9);
    const begin = 4 + 10 + 12 + 4 + 6 + 4 + 5; // frame size, fixed header, header data, message begin
    for (let cut = begin; cut < answer.length; cut += 17) {
      const c = host.connection({ filters: [plugin] });
      c.newConnection();
      c.downstreamData(call);
      c.upstreamData(answer.subarray(0, cut));
      c.upstreamData(answer.subarray(cut));
      alive();
      assert.deepEqual(Buffer.from(c.written), expected, `answer cut at ${cut}`);
      c.close("Remote");
    }
  });

  it("does not hold the upstream for a server message of type call with a refused call's seq id", () => {
    const c = host.connection({ filters: [plugin] });
    c.newConnection();
    c.downstreamData(framed(binary("delete", 1, 3, 1, "k")));
    const serverCall = framed(binary("ping", 1, 3, 1, "x"));
    c.upstreamData(serverCall);
    alive();
    assert.deepEqual(Buffer.from(c.written), serverCall);
    c.close("Remote");
  });

  it("skips framed payloads larger than any read by count and still routes, measures and rewrites", () => {
    const payload = Buffer.alloc(1 << 20, 0x61);
    for (const wrap of [framed, (m: Buffer) => theader(m, 5)]) {
      const call = wrap(binary("Catalog:put", 1, 5, 1, payload));
      const c = host.connection({ filters: [plugin] });
      c.newConnection();
      const before = requestBytes().length;
      for (let at = 0; at < call.length; at += 65_536) c.downstreamData(call.subarray(at, at + 65_536));
      alive();
      assert.deepEqual(Buffer.from(c.forwarded), call, "the call passes untouched");
      // A call is measured when its answer comes, and written at the next flush.
      const reply = wrap(binary("Catalog:put", 2, 5, 0, "ok"));
      c.upstreamData(reply);
      flushTelemetry(host);
      assert.deepEqual(requestBytes().slice(before), [BigInt(call.length)], "istio_request_bytes is the whole frame");
      // A refused call behind it, then a large answer to it cut in three: our exception replaces it whole.
      c.downstreamData(wrap(binary("delete", 1, 6, 1, "k")));
      const answer = wrap(binary("$$$$$$", 3, 6, 1, payload));
      c.upstreamData(answer.subarray(0, 40));
      c.upstreamData(answer.subarray(40, 500_000));
      c.upstreamData(answer.subarray(500_000));
      alive();
      const ours = appException("delete", 6, "delete is disabled");
      assert.deepEqual(Buffer.from(c.written), Buffer.concat([reply, wrap === framed ? framed(ours) : theader(ours, 5)]));
      c.close("Remote");
    }
  });
});
