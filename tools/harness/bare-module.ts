/**
 * Instantiating a bare AssemblyScript module (a codec or classifier built for fuzzing and
 * benchmarks, no proxy-wasm host): only the abort handler and proxy_log are imported, and an
 * abort must surface as a failure, never pass.
 */
import { readFile } from "node:fs/promises";

/** `name` names the module in the error an imported call (abort) throws. */
export async function instantiateBare(wasm: string, name: string): Promise<WebAssembly.Exports> {
  const module = await WebAssembly.compile(await readFile(wasm));
  const imports: Record<string, Record<string, (...args: number[]) => number>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] = imp.name === "proxy_log"
      ? () => 0
      : () => {
          throw new Error(`${name} called ${imp.module}.${imp.name} (abort?)`);
        };
  }
  const instance = await WebAssembly.instantiate(module, imports);
  return instance.exports;
}
