/**
 * The thrift filter's hold-and-rewrite path with every read split: a routed call and a refused
 * call (framed binary) cut at every byte on the way in, and the server's answers cut at every byte
 * on the way out. The forwarded calls must be the client's bytes with only the refused method
 * renamed; the written replies the server's reply plus our TApplicationException, whatever the cuts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { Plugin } from "../host/plugin.js";

const thriftWasm = new URL("../../build/thrift.wasm", import.meta.url).pathname;

const CONFIG = {
  rules: [
    { name: "secret", match: { method: { exact: "secret" } }, policy: { deny: true, message: "nope" } },
    { name: "hello", match: { method: { exact: "hello" } }, route: { cluster: "hello" } },
  ],
};

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A framed strict-binary message whose payload is a struct with one string field `fid`. */
function framed(name: string, type: number, seq: number, fid: number, text: string): Buffer {
  const field = Buffer.concat([Buffer.from([11]), Buffer.from([fid >> 8, fid & 0xff]), i32(Buffer.byteLength(text)), Buffer.from(text), Buffer.from([0])]);
  const body = Buffer.concat([Buffer.from([0x80, 1, 0, type]), i32(Buffer.byteLength(name)), Buffer.from(name), i32(seq), field]);
  return Buffer.concat([i32(body.length), body]);
}

/** Our answer, as exception.ts writes it: { 1: message, 2: type INTERNAL_ERROR }. */
function exception(name: string, seq: number, message: string): Buffer {
  const struct = Buffer.concat([Buffer.from([11, 0, 1]), i32(Buffer.byteLength(message)), Buffer.from(message), Buffer.from([8, 0, 2]), i32(6), Buffer.from([0])]);
  const body = Buffer.concat([Buffer.from([0x80, 1, 0, 3]), i32(Buffer.byteLength(name)), Buffer.from(name), i32(seq), struct]);
  return Buffer.concat([i32(body.length), body]);
}

describe("thrift filter with every read split", () => {
  const host = new Host();
  let plugin: Plugin;
  before(async () => {
    plugin = await host.loadPlugin({ name: "thrift-split", wasm: thriftWasm, rootId: "thrift", configuration: JSON.stringify(CONFIG), vmCount: 1 });
  });
  after(() => host.close());

  const calls = Buffer.concat([framed("hello", 1, 1, 1, "a"), framed("secret", 1, 2, 1, "b")]);
  const renamed = Buffer.concat([framed("hello", 1, 1, 1, "a"), framed("$$$$$$", 1, 2, 1, "b")]);
  const answers = Buffer.concat([framed("hello", 2, 1, 0, "hello:a"), framed("$$$$$$", 3, 2, 1, "unknown method $$$$$$")]);
  const expected = Buffer.concat([framed("hello", 2, 1, 0, "hello:a"), exception("secret", 2, "nope")]);

  it("forwards the calls with only the refused method renamed, and writes our exception for it", () => {
    for (let cut = 0; cut <= calls.length; cut++) {
      for (const ucut of [0, 3, 20, answers.length - 1, answers.length]) {
        const c = host.connection({ filters: [plugin] });
        c.newConnection();
        c.downstreamData(calls.subarray(0, cut));
        c.downstreamData(calls.subarray(cut));
        assert.deepEqual(Buffer.from(c.forwarded), renamed, `calls cut at ${cut}`);
        c.upstreamData(answers.subarray(0, ucut));
        c.upstreamData(answers.subarray(ucut));
        assert.deepEqual(Buffer.from(c.written), expected, `calls cut at ${cut}, answers cut at ${ucut}`);
        c.close("Remote");
      }
    }
  });

  it("rewrites the answers cut at every byte", () => {
    for (let ucut = 0; ucut <= answers.length; ucut++) {
      const c = host.connection({ filters: [plugin] });
      c.newConnection();
      c.downstreamData(calls);
      c.upstreamData(answers.subarray(0, ucut));
      c.upstreamData(answers.subarray(ucut));
      assert.deepEqual(Buffer.from(c.written), expected, `answers cut at ${ucut}`);
      c.close("Remote");
    }
  });
});
