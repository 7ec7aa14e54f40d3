/**
 * Every module we build is safe on `envoy.wasm.runtime.wamr`: WAMR inserts a host-managed app heap
 * into the linear memory of a module unless it exports both a `malloc` and a `free` of exactly
 * these shapes (WAMR core/iwasm/interpreter/wasm_loader.c, "Resolve malloc/free function exported
 * by wasm module"; wasm_runtime.c memory_instantiate, "Disable app heap"), and that heap lies in
 * pages the AssemblyScript allocator also hands out (docs/adr/0005-wamr-app-heap.md):
 *   malloc: one param, one result, both i32;   free: one i32 param, no result.
 * The signatures are read from the binary itself (Node 20 has no wasm type reflection).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const BUILD = fileURLToPath(new URL("../../build/", import.meta.url));
const I32 = 0x7f;

interface FuncType {
  readonly params: number[];
  readonly results: number[];
}

/** Exported functions of a module with their types: the type, import, function and export sections. */
function exportedFunctionTypes(bytes: Uint8Array): Map<string, FuncType> {
  let at = 8; // magic + version
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  const name = (): string => {
    const n = u32();
    const s = Buffer.from(bytes.subarray(at, at + n)).toString("utf8");
    at += n;
    return s;
  };
  const types: FuncType[] = [];
  const funcTypes: number[] = []; // type index per function index, imports first
  const exports = new Map<string, number>();
  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = u32();
    const end = at + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        assert.equal(bytes[at++], 0x60, "func type form");
        const params = Array.from({ length: u32() }, () => bytes[at++]!);
        const results = Array.from({ length: u32() }, () => bytes[at++]!);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        name();
        name();
        const kind = bytes[at++]!;
        const limits = (): void => {
          const flags = bytes[at++]!;
          u32();
          if (flags & 1) u32();
        };
        if (kind === 0) funcTypes.push(u32());
        else if (kind === 1) {
          at++; // reference type
          limits();
        } else if (kind === 2) limits();
        else at += 2; // global: value type, mutability
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(u32());
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const exportName = name();
        const kind = bytes[at++]!;
        const index = u32();
        if (kind === 0) exports.set(exportName, index);
      }
    }
    at = end;
  }
  const out = new Map<string, FuncType>();
  for (const [exportName, index] of exports) out.set(exportName, types[funcTypes[index]!]!);
  return out;
}

function builtModules(): string[] {
  const release = (dir: string) => readdirSync(path.join(BUILD, dir)).filter((f) => f.endsWith(".wasm") && !f.endsWith(".debug.wasm"));
  return [
    ...release("."),
    // Fixtures are AssemblyScript modules on the same runtime, except the C floor and the
    // classify bench (not a proxy-wasm module: it exports no malloc at all).
    ...release("fixtures").filter((f) => f !== "null-c.wasm" && f !== "classify-bench.wasm").map((f) => `fixtures/${f}`),
  ];
}

describe("modules export what WAMR checks before it inserts an app heap", () => {
  const modules = builtModules();

  it("the build produced the product filters and AssemblyScript fixtures", () => {
    for (const m of ["sniffer.wasm", "tcp-stats.wasm", "fixtures/null.wasm", "fixtures/probe.wasm"]) {
      assert.ok(modules.includes(m), `build/${m} missing (npm run build): ${modules.join(", ")}`);
    }
  });

  for (const m of modules) {
    for (const flavour of ["", ".debug"]) {
      const file = m.replace(/\.wasm$/, `${flavour}.wasm`);
      it(`${file}: malloc (i32) -> i32 and free (i32) -> ()`, () => {
        const fns = exportedFunctionTypes(readFileSync(path.join(BUILD, file)));
        assert.deepEqual(fns.get("malloc"), { params: [I32], results: [I32] }, `${file} malloc`);
        assert.deepEqual(fns.get("free"), { params: [I32], results: [] }, `${file} free`);
      });
    }
  }

  it("the reader sees a module without free as WAMR does (no free export)", async () => {
    // A tiny module exporting only malloc: (func (param i32) (result i32) local.get 0).
    const bytes = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type section
      0x03, 0x02, 0x01, 0x00, // function section
      0x07, 0x0a, 0x01, 0x06, 0x6d, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x00, // export "malloc"
      0x0a, 0x06, 0x01, 0x04, 0x00, 0x20, 0x00, 0x0b, // code
    ]);
    await WebAssembly.compile(bytes); // a valid module
    const fns = exportedFunctionTypes(bytes);
    assert.deepEqual(fns.get("malloc"), { params: [I32], results: [I32] });
    assert.equal(fns.get("free"), undefined);
  });
});
