/**
 * The TLSF heap of an AssemblyScript module (minimal runtime, 32-bit), read from outside through
 * its exported memory: how many bytes sit in used blocks, how many in free ones, and the largest
 * free block. The fuzz harness reads it when memory grows, to tell a live set that grew from
 * garbage or fragmentation.
 *
 * Layout (assemblyscript 0.27 std/assembly/rt/tlsf.ts, rt/common.ts): the allocator's root
 * sits at `__heap_base` rounded up to 16 bytes; its last word (HL_END) is the tail block's
 * address. Blocks follow the root back to back: a 4-byte header (size | FREE | LEFTFREE), then
 * `size` bytes; the tail is a zero-size block. Memory added by a growth is merged into the
 * tail, so one walk from the first block reaches the tail.
 */

const AL_MASK = 15;
const BLOCK_OVERHEAD = 4;
const FREE = 1;
const TAGS_MASK = 3;
// FL_BITS = 31 - (SL_BITS 4 + AL_BITS 4); SL_START = 4; SL_END = SL_START + FL_BITS * 4;
// HL_START = SL_END rounded to 16; HL_END = HL_START + FL_BITS * SL_SIZE(16) * 4.
const FL_BITS = 23;
const HL_START = (4 + FL_BITS * 4 + AL_MASK) & ~AL_MASK;
const HL_END = HL_START + FL_BITS * 16 * 4;
const ROOT_SIZE = HL_END + 4;

export interface HeapStats {
  /** Bytes in used blocks, headers included (live objects and garbage not yet collected). */
  readonly used: number;
  /** Bytes in free blocks, headers included. */
  readonly free: number;
  /** The largest free block's size. */
  readonly largestFree: number;
  readonly usedBlocks: number;
  readonly freeBlocks: number;
}

/** End of the module's active data segments rounded to 16: where the compiler puts `__heap_base`. */
export function heapBase(wasm: Uint8Array): number {
  let at = 8;
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = wasm[at++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
    }
  };
  const sleb = (): number => {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = wasm[at++]!;
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return shift < 32 && b & 0x40 ? result | (-1 << shift) : result;
  };
  let end = 0;
  while (at < wasm.length) {
    const id = wasm[at++]!;
    const size = leb();
    const next = at + size;
    if (id === 11) {
      for (let n = leb(); n > 0; n--) {
        const flags = leb();
        let offset = 0;
        if (flags !== 1) {
          if (flags === 2) leb();
          if (wasm[at++] !== 0x41) throw new Error("heapBase: data segment offset is not i32.const");
          offset = sleb();
          at++; // end
        }
        const length = leb();
        at += length;
        if (flags !== 1) end = Math.max(end, offset + length);
      }
    }
    at = next;
  }
  return (end + AL_MASK) & ~AL_MASK;
}

/**
 * The allocator's root: the first 16-byte boundary at or after `base` (heapBase: segments that
 * end in zeros are trimmed from the binary, so `__heap_base` may lie a little further) from
 * which a walk ends at the root's tail. Undefined when none does within 64 KiB.
 */
export function findRoot(memory: WebAssembly.Memory, base: number): number | undefined {
  const limit = Math.min(base + 0x10000, memory.buffer.byteLength);
  for (let root = (base + AL_MASK) & ~AL_MASK; root + ROOT_SIZE <= limit; root += AL_MASK + 1) {
    if (heapStats(memory, root) !== undefined) return root;
  }
  return undefined;
}

/**
 * Walks the heap whose root is at `root` (findRoot); undefined when the walk does not end at
 * the root's tail.
 */
export function heapStats(memory: WebAssembly.Memory, root: number): HeapStats | undefined {
  const view = new DataView(memory.buffer);
  if (root + ROOT_SIZE > view.byteLength) return undefined;
  const tail = view.getUint32(root + HL_END, true);
  if (tail >= view.byteLength || tail < root + ROOT_SIZE) return undefined;
  let block = ((root + ROOT_SIZE + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD;
  let used = 0;
  let free = 0;
  let largestFree = 0;
  let usedBlocks = 0;
  let freeBlocks = 0;
  while (block !== tail) {
    if (block > tail) return undefined;
    const info = view.getUint32(block, true);
    const size = info & ~TAGS_MASK;
    if (size === 0) return undefined;
    if (info & FREE) {
      free += BLOCK_OVERHEAD + size;
      largestFree = Math.max(largestFree, size);
      freeBlocks++;
    } else {
      used += BLOCK_OVERHEAD + size;
      usedBlocks++;
    }
    block += BLOCK_OVERHEAD + size;
  }
  return { used, free, largestFree, usedBlocks, freeBlocks };
}
