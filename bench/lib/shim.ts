/**
 * A minimal proxy-wasm host in a few JS functions, for the sniffer's "direct" number: the
 * filter's exports called straight from JS with host calls that do almost nothing (each answers
 * Ok and copies at most a few bytes), so what remains is the filter's own wasm work plus the
 * bare JS ↔ wasm crossing of each host call. The emulator's cost per host call (test/host, which
 * copies Envoy's semantics) is what separates this number from the "through host" one; every
 * host call is counted per name so the report can say how many a classification makes.
 *
 * Answers: plugin_root_id and destination.address (get_property), plugin configuration and the
 * current read (get_buffer_bytes), log level info, metric ids; every other env call the sniffer
 * imports answers Ok. An import outside that list throws, so a module that needs more is never
 * mismeasured.
 */
import type { RawNetworkExports } from "./raw.js";
import { readFile } from "node:fs/promises";

const OK = 0;
const NOT_FOUND = 1;


/** BufferType (workbench contract). */
const DOWNSTREAM = 2;
const UPSTREAM = 3;
const PLUGIN_CONFIGURATION = 7;

export interface ShimConnection {
  /** Upstream bytes delivered before the client's (server-first). */
  readonly greeting?: Uint8Array;
  readonly data: Uint8Array;
  /** A second read with end of stream (the bytes again when the first read was paused on). */
  readonly eos: boolean;
}

export class ShimModule {
  readonly calls = new Map<string, number>();
  /** Count host calls (off while timing: the count itself would be measured). */
  counting = false;
  private nextContext = 2;
  private current: Uint8Array = new Uint8Array(0);

  private constructor(
    private readonly x: RawNetworkExports,
    readonly rootId: number,
  ) {}

  static async load(wasmPath: string, pluginRootId: string, configuration: string): Promise<ShimModule> {
    const module = await WebAssembly.compile(await readFile(wasmPath));
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const config = enc.encode(configuration);
    const rootIdBytes = enc.encode(pluginRootId);
    const destination = enc.encode("10.0.0.2:8080");
    let shim: ShimModule | undefined;
    const x = (): RawNetworkExports => shim!.x;
    // Views over the module's memory, made once and again only after memory.grow (which detaches
    // the old buffer): a host call then costs the crossing and its few stores, not new objects.
    let u8 = new Uint8Array(0);
    let dv = new DataView(new ArrayBuffer(0));
    const fresh = (): void => {
      if (u8.byteLength !== 0) return;
      u8 = new Uint8Array(x().memory.buffer);
      dv = new DataView(x().memory.buffer);
    };
    const view = (): DataView => (fresh(), dv);
    const bytesAt = (ptr: number, len: number): Uint8Array => (fresh(), u8.subarray(ptr, ptr + len));
    const give = (bytes: Uint8Array, retPtr: number, retLen: number): number => {
      const ptr = bytes.length > 0 ? x().malloc(bytes.length) : 0;
      fresh(); // malloc may have grown the memory
      if (bytes.length > 0) u8.set(bytes, ptr);
      dv.setUint32(retPtr, ptr, true);
      dv.setUint32(retLen, bytes.length, true);
      return OK;
    };
    const NOTHING = new Uint8Array(0);
    let metricId = 0;
    const logs: string[] = [];
    const env: Record<string, (...a: number[]) => number> = {
      proxy_log: (level, ptr, len) => {
        // Warnings and errors are kept so a rejected configuration explains itself.
        if (level >= 3) logs.push(dec.decode(bytesAt(ptr, len)));
        return OK;
      },
      proxy_get_log_level: (ret) => (view().setUint32(ret, 2, true), OK),
      proxy_get_property: (pathPtr, pathLen, retPtr, retLen) => {
        const path = dec.decode(bytesAt(pathPtr, pathLen));
        if (path === "plugin_root_id") return give(rootIdBytes, retPtr, retLen);
        if (path === "destination\0address" || path === "destination.address") return give(destination, retPtr, retLen);
        return NOT_FOUND;
      },
      proxy_get_buffer_bytes: (type, start, max, retPtr, retLen) => {
        const src = type === PLUGIN_CONFIGURATION ? config : type === DOWNSTREAM || type === UPSTREAM ? shim!.current : undefined;
        if (!src) return NOT_FOUND;
        // i32 on the wire: u32.MAX_VALUE ("everything") arrives as -1.
        const from = Math.min(start >>> 0, src.length);
        const to = Math.min(src.length, from + (max >>> 0));
        return give(from === 0 && to === src.length ? src : src.subarray(from, to), retPtr, retLen);
      },
      proxy_define_metric: (_type, _n, _l, ret) => (view().setUint32(ret, ++metricId, true), OK),
      proxy_increment_metric: () => OK,
      proxy_set_tick_period_milliseconds: () => OK,
      proxy_set_effective_context: () => OK,
      proxy_set_property: () => OK,
      proxy_close_stream: () => OK,
      proxy_continue_stream: () => OK,
      proxy_call_foreign_function: (_n, _nl, _a, _al, retPtr, retLen) => give(NOTHING, retPtr, retLen),
    };
    const imports: Record<string, Record<string, (...a: number[]) => number>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      const table = (imports[imp.module] ??= {});
      const f = imp.module === "env" ? env[imp.name] : undefined;
      if (f) {
        const name = imp.name;
        // Fixed arity (the ABI's widest call the shim answers has 6 arguments): a rest/spread
        // wrapper would cost more than the host call it measures.
        table[name] = (a0: number, a1: number, a2: number, a3: number, a4: number, a5: number) => {
          if (shim!.counting) shim!.calls.set(name, (shim!.calls.get(name) ?? 0) + 1);
          return f(a0, a1, a2, a3, a4, a5);
        };
      } else {
        table[imp.name] = () => {
          throw new Error(`${wasmPath}: the shim host does not answer ${imp.module}.${imp.name}`);
        };
      }
    }
    const instance = await WebAssembly.instantiate(module, imports);
    shim = new ShimModule(instance.exports as unknown as RawNetworkExports, 1);
    const e = shim.x;
    e.proxy_on_context_create(1, 0);
    if (!e.proxy_on_vm_start(1, 0)) throw new Error(`${wasmPath}: proxy_on_vm_start returned false`);
    if (!e.proxy_on_configure(1, config.length)) {
      throw new Error(`${wasmPath}: proxy_on_configure rejected ${configuration}: ${logs.join(" | ") || "(no log)"}`);
    }
    shim.calls.clear();
    return shim;
  }

  /** One connection in Envoy's callback order (source/extensions/common/wasm/context.cc). */
  connection(c: ShimConnection): void {
    const e = this.x;
    const id = this.nextContext++;
    e.proxy_on_context_create(id, this.rootId);
    e.proxy_on_new_connection(id);
    if (c.greeting) {
      this.current = c.greeting;
      e.proxy_on_upstream_data(id, c.greeting.length, 0);
    }
    this.current = c.data;
    const paused = e.proxy_on_downstream_data(id, c.data.length, 0) === 1;
    if (c.eos) {
      if (!paused) this.current = new Uint8Array(0);
      e.proxy_on_downstream_data(id, this.current.length, 1);
    }
    e.proxy_on_downstream_connection_close(id, 1);
    if (e.proxy_on_done(id)) {
      e.proxy_on_log(id);
      e.proxy_on_delete(id);
    }
  }

  /** Host calls one connection makes, by name (`proxy_` dropped). */
  count(c: ShimConnection): Record<string, number> {
    this.calls.clear();
    this.counting = true;
    try {
      this.connection(c);
    } finally {
      this.counting = false;
    }
    const out: Record<string, number> = {};
    for (const [k, v] of [...this.calls].sort(([a], [b]) => a.localeCompare(b))) out[k.replace(/^proxy_/, "")] = v;
    return out;
  }
}
