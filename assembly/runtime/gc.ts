// When garbage is collected. Filters are built with AssemblyScript's minimal runtime (TCMS): a
// stop-the-world mark & sweep that runs only when `__collect` is called and never scans wasm
// locals, so the compiler keeps no shadow stack (docs/adr/0006-minimal-runtime.md).
// Envoy never calls `__collect`, so this layer does, at the one kind of point where no managed
// reference lives only in a wasm local: when the outermost exported callback is about to return
// (its call into the context has returned; only primitives remain). Every object that must
// survive is reachable from a global or from a pinned object (the stored contexts, context.ts).
//
// `depth` makes a callback the host delivers while another one is still running (a nested
// `proxy_on_*` during a host call) no safe point: the outer callback's locals are live.
import { OBJECT, TOTAL_OVERHEAD } from "rt/common";

/**
 * The debug build's checking mode (asconfig.json, `--use PROTOMESH_GC_DEBUG=1`): a collection
 * after every outermost callback, and every freed object overwritten with 0xdd. Whatever is kept
 * only through a raw address is then garbage at once, and the tests that drive the debug module
 * read the poison instead of stale bytes that happen to still be there.
 */
const GC_DEBUG: bool = isDefined(PROTOMESH_GC_DEBUG);

/**
 * Outermost callbacks between two collections. The collector's own byte count (`total` in
 * rt/tcms.ts) is not readable from outside the runtime, so the budget is in callbacks; a
 * callback during which the memory grew collects at its end regardless (see leave).
 */
export const COLLECT_EVERY: u32 = GC_DEBUG ? 1 : 256;

let depth: u32 = 0;
let calls: u32 = 0;
/** Pages of linear memory after the last collection. */
let pages: i32 = 0;

// @ts-ignore: decorator
@inline export function enter(): void {
  depth++;
}

// @ts-ignore: decorator
@inline export function leave(): void {
  if (--depth == 0 && (++calls >= COLLECT_EVERY || memory.size() != pages)) collect();
}

/**
 * leave() for the callbacks that parse configuration (proxy_on_vm_start, proxy_on_configure):
 * they allocate the most garbage of any callback in one go and run rarely (once per VM and per
 * configuration change), so they always collect at their end.
 */
// @ts-ignore: decorator
@inline export function leaveConfiguring(): void {
  if (--depth == 0) collect();
}

function collect(): void {
  calls = 0;
  __collect();
  pages = memory.size();
}

/** Called by the collector for each object it frees (rt/tcms.ts); poisons it in the debug build. */
// @ts-ignore: decorator
@global function __finalize(ptr: usize): void {
  if (GC_DEBUG) memory.fill(ptr, 0xdd, changetype<OBJECT>(ptr - TOTAL_OVERHEAD).rtSize);
}
