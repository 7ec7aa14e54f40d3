// The Dubbo decoder's fuzz target and bench section (fuzz/dubbo.ts, bench/dubbo.ts) over the
// built test module build/fixtures/dubbo-codec.wasm (npm run build).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DecoderV2 } from "hessian.js";
import { BODY_SIZES, dubboRequest, MAX_PER_PASS, measureDubbo, renderDubbo, requestStream } from "../../bench/dubbo.js";
import { describeDubboFuzz, dubboCorpus, runDubboFuzz } from "../../fuzz/dubbo.js";
import { skipUnless } from "../../scripts/provision.mjs";

const needsClang = skipUnless("clang", "lld");

describe("dubbo bench frames", () => {
  test("have exactly the body sizes of the rows and decode with hessian.js", () => {
    for (const size of BODY_SIZES) {
      const frame = dubboRequest(size);
      assert.equal(frame.readUInt16BE(0), 0xdabb);
      assert.equal(frame.readInt32BE(12), size);
      assert.equal(frame.length, 16 + size);
      const d = new DecoderV2(frame.subarray(16));
      assert.deepEqual([d.read(), d.read(), d.read(), d.read(), d.read()], ["2.0.2", "com.acme.Greeter", "0.0.0", "sayHi", "Ljava/lang/String;"]);
    }
  });

  test("arrive back to back, as many per pass as 8 MiB holds (at most MAX_PER_PASS)", () => {
    const small = requestStream(dubboRequest(100));
    assert.equal(small.requests, MAX_PER_PASS);
    assert.equal(small.bytes.length, 116 * MAX_PER_PASS);
    assert.deepEqual(small.bytes.subarray(116, 232), dubboRequest(100));
    const large = requestStream(dubboRequest(1024 * 1024));
    assert.equal(large.requests, Math.floor((8 * 1024 * 1024) / (1024 * 1024 + 16)));
  });
});

describe("dubbo decoder fuzz", () => {
  test("runs mutated fixtures through every decoder level without a trap, memory flat", async () => {
    const r = await runDubboFuzz({ seed: 1, iterations: 4000, warmup: 400 });
    assert.equal(r.failure, undefined, describeDubboFuzz(r));
    assert.ok(r.frames > 0, "no frame decoded: the corpus does not reach the decoder");
    assert.ok(r.errors > 0, "no input ended in an Error: the mutations do not reach the error paths");
    assert.equal(r.pages.length, 4);
    assert.match(describeDubboFuzz(r), /OK \(0 traps, memory flat\)/);
  });

  test("decoders created per connection are collected with their records (memory flat)", async () => {
    const { readFile } = await import("node:fs/promises");
    const { DUBBO_FUZZ_WASM } = await import("../../fuzz/dubbo.js");
    const module = await WebAssembly.compile(await readFile(DUBBO_FUZZ_WASM));
    const imports: Record<string, Record<string, () => number>> = {};
    for (const imp of WebAssembly.Module.imports(module)) (imports[imp.module] ??= {})[imp.name] = () => 0;
    const x = (await WebAssembly.instantiate(module, imports)).exports as unknown as {
      memory: WebAssembly.Memory;
      configure(level: number, maxBody: number, maxDepth: number, maxAttachments: number): void;
    };
    for (let i = 0; i < 2_000; i++) x.configure(2, 0, 0, 0);
    const warm = x.memory.buffer.byteLength;
    for (let i = 0; i < 50_000; i++) x.configure(2, 0, 0, 0);
    assert.ok(x.memory.buffer.byteLength <= warm + 2 * 65536, `memory grew from ${warm} to ${x.memory.buffer.byteLength} bytes over 50,000 decoders`);
  });

  test("the corpus holds every hessian.js fixture, packed inputs and hostile bodies", () => {
    const names = dubboCorpus().map((s) => s.name);
    for (const n of ["dubbo:say-hi", "dubbo:chunked", "dubbo:heartbeat-request", "dubbo:packed-0", "nested-lists", "class-defs"]) {
      assert.ok(names.includes(n), `corpus lacks ${n}`);
    }
  });
});

describe("dubbo bench", () => {
  test("measures every body size at every level against the C floor", { skip: needsClang }, async () => {
    const options = { rounds: 1, iterations: 20 };
    const r = await measureDubbo(options);
    assert.equal(r.skipped, undefined);
    assert.deepEqual(r.rows.map((x) => x.bodyBytes), [...BODY_SIZES]);
    for (const x of r.rows) {
      for (const s of [x.header, x.route, x.full, x.c!]) assert.ok(Number.isFinite(s.median) && s.median > 0, `${x.bodyBytes}: ${s.median}`);
    }
    for (const x of r.rows) assert.equal(x.perPass, requestStream(dubboRequest(x.bodyBytes)).requests);
    const text = renderDubbo(r, options).join("\n");
    assert.match(text, /## Dubbo decoder/);
    assert.match(text, /\| 1 MiB /);
    assert.match(text, /- Header only is flat in the body size when /);
    assert.match(text, /- Route is flat in the body size when /);
  });
});
