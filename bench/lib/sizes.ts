import { readdir, stat } from "node:fs/promises";
import path from "node:path";

export interface WasmSize {
  /** Module name: `tcp-stats`, `fixtures/null`… */
  readonly name: string;
  readonly release?: number;
  readonly debug?: number;
}

/**
 * Sizes of every `.wasm` in `build/` and `build/fixtures/`, release (`<name>.wasm`) and debug
 * (`<name>.debug.wasm`) side by side. A missing variant stays undefined (null-c has no debug
 * build).
 */
export async function wasmSizes(buildDir: string): Promise<WasmSize[]> {
  const rows = new Map<string, { release?: number; debug?: number }>();
  for (const sub of ["", "fixtures"]) {
    const dir = path.join(buildDir, sub);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const file of names.sort()) {
      if (!file.endsWith(".wasm")) continue;
      const debug = file.endsWith(".debug.wasm");
      const base = file.slice(0, -(debug ? ".debug.wasm".length : ".wasm".length));
      const name = sub === "" ? base : `${sub}/${base}`;
      const size = (await stat(path.join(dir, file))).size;
      const row = rows.get(name) ?? {};
      if (debug) row.debug = size;
      else row.release = size;
      rows.set(name, row);
    }
  }
  return [...rows].map(([name, row]) => ({ name, ...row }));
}
