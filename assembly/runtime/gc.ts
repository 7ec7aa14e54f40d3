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
 * The garbage a collection is meant to find, as a share of the heap: 1 / 2^GARBAGE_SHIFT of
 * the linear memory above the static data (`__heap_base`), where live objects and garbage
 * share the space. The interval to the next collection is sized so that, at the garbage rate
 * the last collection measured, this much accumulates. The collector's own byte count (`total`
 * in rt/tcms.ts) is a module-private global, so the rate is measured where garbage becomes
 * visible to us: __finalize, which TCMS calls for every object it frees. A 128th: the
 * measured rate of mixed traffic varies several-fold between collections, and at a 128th the
 * fuzz harness' mixed traffic collects about as often as the fixed interval this replaced did,
 * while a data path that makes no garbage collects every COLLECT_MAX callbacks
 * (docs/adr/0006-minimal-runtime.md).
 */
export const GARBAGE_SHIFT: u32 = 7;
/**
 * Bounds of the interval, in outermost callbacks. The floor is the fixed interval this
 * replaced (a filter that makes much garbage collects as often as before, never more); the
 * ceiling bounds what a filter that makes little garbage accumulates when its traffic changes
 * before the next collection measures the new rate.
 */
export const COLLECT_MIN: u32 = GC_DEBUG ? 1 : 256;
export const COLLECT_MAX: u32 = GC_DEBUG ? 1 : 4096;

let depth: u32 = 0;
let calls: u32 = 0;
/** Outermost callbacks between the last collection and the next. */
let interval: u32 = COLLECT_MIN;
/** Bytes the running collection freed (counted by __finalize). */
let freed: usize = 0;
/** Pages of linear memory after the last collection. */
let pages: i32 = 0;

// @ts-ignore: decorator
@inline export function enter(): void {
  depth++;
}

// @ts-ignore: decorator
@inline export function leave(): void {
  if (--depth == 0 && (++calls >= interval || memory.size() != pages)) collect(false);
}

/**
 * leave() for the callbacks that parse configuration (proxy_on_vm_start, proxy_on_configure):
 * they allocate the most garbage of any callback in one go and run rarely (once per VM and per
 * configuration change), so they always collect at their end.
 */
// @ts-ignore: decorator
@inline export function leaveConfiguring(): void {
  if (--depth == 0) collect(true);
}

/**
 * A configuring callback's garbage says nothing about the data path's rate: the interval after
 * it is the floor until a collection measures the data path.
 */
function collect(configuring: bool): void {
  freed = 0;
  __collect();
  pages = memory.size();
  interval = configuring ? COLLECT_MIN : nextInterval(calls, freed, garbageBudget(pages), interval);
  calls = 0;
}

/** Bytes of garbage a collection is meant to find in a memory of `pages` pages. */
export function garbageBudget(pages: i32): usize {
  const heap = (<usize>pages << 16) - __heap_base;
  return heap >> GARBAGE_SHIFT;
}

/**
 * Callbacks until the next collection after one that freed `garbage` bytes made over `over`
 * callbacks: `budget` at that rate, within [COLLECT_MIN, COLLECT_MAX], and at most twice the
 * `last` interval, so a lull in garbage stretches the interval over several collections
 * rather than at once (the rate of a mixed workload varies several-fold between collections).
 */
export function nextInterval(over: u32, garbage: usize, budget: usize, last: u32): u32 {
  let n = <u64>budget * <u64>over / (<u64>garbage + 1);
  const most = <u64>last << 1;
  if (n > most) n = most;
  return n <= <u64>COLLECT_MIN ? COLLECT_MIN : n >= <u64>COLLECT_MAX ? COLLECT_MAX : <u32>n;
}

/**
 * Called by the collector for each object it frees (rt/tcms.ts): counts its bytes for the
 * garbage rate and poisons it in the debug build.
 */
// @ts-ignore: decorator
@global function __finalize(ptr: usize): void {
  const size = changetype<OBJECT>(ptr - TOTAL_OVERHEAD).rtSize;
  freed += TOTAL_OVERHEAD + <usize>size;
  if (GC_DEBUG) memory.fill(ptr, 0xdd, size);
}

/** Outermost callbacks from the last collection to the next (for tests and probes). */
export function collectInterval(): u32 {
  return interval;
}
