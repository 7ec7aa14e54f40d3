import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { BUILD } from "../../tools/harness/drive.js";
import { byModule, sourceModule } from "../../bench/lib/size-report.js";
import { wasmAnatomy } from "../../bench/lib/wasm-anatomy.js";

/** A section: id, LEB128 size (all sizes here < 128), contents. */
function section(id: number, contents: number[]): number[] {
  return [id, contents.length, ...contents];
}

/** A name-section subsection: id, size, contents. */
function subsection(id: number, contents: number[]): number[] {
  return [id, contents.length, ...contents];
}

function name(s: string): number[] {
  return [s.length, ...Buffer.from(s)];
}

// (import "env" "f" (func)) (memory 1) (func (result i32) 42) (func (result i32) 42 + 1) (data "\01\02\03")
// + a name section naming both functions.
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [2, 0x60, 0, 1, 0x7f, 0x60, 0, 0]),
  ...section(2, [1, ...name("env"), ...name("f"), 0x00, 1]),
  ...section(3, [2, 0, 0]),
  ...section(5, [1, 0x00, 1]),
  ...section(10, [2, 4, 0, 0x41, 42, 0x0b, 7, 0, 0x41, 42, 0x41, 1, 0x6a, 0x0b]),
  ...section(11, [1, 0x00, 0x41, 16, 0x0b, 3, 1, 2, 3]),
  ...section(0, [...name("name"), ...subsection(1, [2, 1, ...name("a/b/answer"), 2, ...name("a/c/twice!")])]),
]);

describe("wasm anatomy (bench size section)", () => {
  it("reads sections, bodies, data segments and names of a hand-assembled module", () => {
    assert.ok(WebAssembly.validate(MODULE), "the fixture is a valid module");
    const a = wasmAnatomy(MODULE);
    assert.equal(a.total, MODULE.length);
    assert.deepEqual(a.sections.map((s) => s.name), ["type", "import", "function", "memory", "code", "data", "custom:name"]);
    assert.equal(a.sections.reduce((n, s) => n + s.bytes, 0), MODULE.length - 8);
    // Function indices start after the one imported function.
    assert.deepEqual(a.functions, [
      { index: 1, name: "a/b/answer", bytes: 5 },
      { index: 2, name: "a/c/twice!", bytes: 8 },
    ]);
    // flags, offset expression (i32.const 16), length, 3 bytes.
    assert.deepEqual(a.dataSegments, [8]);
  });

  it("names the offset of a truncated module", () => {
    assert.throws(() => wasmAnatomy(MODULE.subarray(0, 20)), /truncated at byte 20/);
    assert.throws(() => wasmAnatomy(new Uint8Array([1, 2, 3, 4])), /bad magic/);
  });

  it("groups code by source module", () => {
    assert.equal(sourceModule("assembly/runtime/json/index/Reader#number"), "assembly/runtime/json/index");
    assert.equal(sourceModule("start:assembly/codecs/http1/index"), "assembly/codecs/http1");
    assert.equal(sourceModule("$12"), "(other)");
    assert.deepEqual(byModule([
      { index: 0, name: "x/f", bytes: 3 },
      { index: 1, name: "y/g", bytes: 5 },
      { index: 2, name: "x/h", bytes: 4 },
    ]), [{ module: "x", bytes: 7 }, { module: "y", bytes: 5 }]);
  });

  it("accounts for every byte of the built sniffer (npm run build)", () => {
    const a = wasmAnatomy(readFileSync(path.join(BUILD, "sniffer.wasm")));
    assert.equal(a.sections.reduce((n, s) => n + s.bytes, 0) + 8, a.total);
    const code = a.sections.find((s) => s.name === "code")!;
    assert.ok(a.functions.length > 100);
    assert.ok(a.functions.reduce((n, f) => n + f.bytes, 0) < code.bytes);
  });
});
