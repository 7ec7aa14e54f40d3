/**
 * A wasm module instantiated straight from JS, without the host emulator: the baseline for
 * "what does the emulator itself cost per call", and the cleanest AS-vs-C comparison.
 *
 * Only the host functions a null filter touches while starting are answered: `proxy_log`
 * (accepted, dropped) and `proxy_get_property("plugin_root_id")` (our ABI layer asks for its
 * root id in on_context_create). Every other `env` import answers NotFound and a WASI import
 * answers ENOSYS, so a module that depends on more fails loudly instead of being mismeasured.
 */
import { readFile } from "node:fs/promises";

export interface RawNetworkExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  proxy_on_context_create(contextId: number, parentId: number): void;
  proxy_on_vm_start(rootId: number, size: number): number;
  proxy_on_configure(rootId: number, size: number): number;
  proxy_on_new_connection(contextId: number): number;
  proxy_on_downstream_data(contextId: number, size: number, eos: number): number;
  proxy_on_upstream_data(contextId: number, size: number, eos: number): number;
  proxy_on_downstream_connection_close(contextId: number, peer: number): void;
  proxy_on_done(contextId: number): number;
  proxy_on_log(contextId: number): void;
  proxy_on_delete(contextId: number): void;
}

export interface RawModule {
  readonly exports: RawNetworkExports;
  /** Context id of the root context the module was started with. */
  readonly rootId: number;
  nextContextId: number;
  /** Host calls the module made that the shim does not implement. */
  readonly unanswered: string[];
}

const OK = 0;
const NOT_FOUND = 1;
const WASI_ENOSYS = 52;

export class RawExit extends Error {}

/** Instantiates the module and starts its root context (create, vm_start, configure) as Envoy does. */
export async function instantiateRaw(wasmPath: string, pluginRootId: string): Promise<RawModule> {
  const module = await WebAssembly.compile(await readFile(wasmPath));
  let exports: RawNetworkExports | undefined;
  const unanswered: string[] = [];
  const text = new TextDecoder();
  const rootIdBytes = new TextEncoder().encode(pluginRootId);

  const answer: Record<string, (...args: number[]) => number> = {
    proxy_log: () => OK,
    proxy_get_property: (pathPtr, pathLen, retPtr, retLen) => {
      const x = exports!;
      const path = text.decode(new Uint8Array(x.memory.buffer, pathPtr, pathLen));
      if (path !== "plugin_root_id") {
        unanswered.push(`proxy_get_property(${JSON.stringify(path)})`);
        return NOT_FOUND;
      }
      const ptr = x.malloc(rootIdBytes.length);
      new Uint8Array(x.memory.buffer, ptr, rootIdBytes.length).set(rootIdBytes);
      const view = new DataView(x.memory.buffer);
      view.setUint32(retPtr, ptr, true);
      view.setUint32(retLen, rootIdBytes.length, true);
      return OK;
    },
  };
  const imports: Record<string, Record<string, (...args: number[]) => number>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") throw new Error(`${wasmPath}: raw instantiation cannot supply ${imp.kind} import ${imp.module}.${imp.name}`);
    const table = (imports[imp.module] ??= {});
    if (imp.module === "env" && answer[imp.name]) {
      table[imp.name] = answer[imp.name]!;
    } else if (imp.name === "proc_exit") {
      table[imp.name] = (code) => {
        throw new RawExit(`${wasmPath}: proc_exit(${code})`);
      };
    } else {
      const fallback = imp.module === "env" ? NOT_FOUND : WASI_ENOSYS;
      table[imp.name] = () => {
        unanswered.push(`${imp.module}.${imp.name}`);
        return fallback;
      };
    }
  }
  const instance = await WebAssembly.instantiate(module, imports);
  exports = instance.exports as unknown as RawNetworkExports;
  const rootId = 1;
  exports.proxy_on_context_create(rootId, 0);
  if (!exports.proxy_on_vm_start(rootId, 0)) throw new Error(`${wasmPath}: proxy_on_vm_start returned false`);
  if (!exports.proxy_on_configure(rootId, 0)) throw new Error(`${wasmPath}: proxy_on_configure returned false`);
  return { exports, rootId, nextContextId: rootId + 1, unanswered };
}
