// Context id → object address. Envoy hands out context ids from a per-VM counter, so `id & mask`
// spreads live ids over distinct slots and a lookup is usually one probe. Open addressing with
// linear probing and backward-shift deletion (no tombstones).
//
// A table is a plain address (header: slots, mask, count; slots: u32 key + u32 address) rather
// than an object: AssemblyScript spills every object reference, managed or @unmanaged, to its
// shadow stack around calls, and the data path should pay for none of that. Callers keep the
// stored objects alive with __pin (context.ts). A slot is empty when its address is 0, so any
// u32 (0 included) can be a key.

// Header layout.
const SLOTS: usize = 0;
const MASK: usize = 4;
const COUNT: usize = 8;
const HEADER_SIZE: usize = 12;

function initSlots(t: usize, cap: u32): void {
  const bytes = <usize>cap << 3;
  const slots = heap.alloc(bytes);
  memory.fill(slots, 0, bytes);
  store<u32>(t + SLOTS, <u32>slots);
  store<u32>(t + MASK, cap - 1);
  store<u32>(t + COUNT, 0);
}

/** A new table with `capacityPow2` slots (a power of two); it grows at 75% load. */
export function tableNew(capacityPow2: u32): usize {
  const t = heap.alloc(HEADER_SIZE);
  initSlots(t, capacityPow2);
  return t;
}

export function tableSize(t: usize): i32 {
  return load<i32>(t + COUNT);
}

/**
 * Address stored for `id`, 0 when absent. The home slot answers directly when it holds `id` or
 * is empty (a stale key in an empty slot is harmless: an empty home slot means absent).
 */
// @ts-ignore: decorator
@inline export function tableGet(t: usize, id: u32): usize {
  const slot = <usize>load<u32>(t + SLOTS) + (<usize>(id & load<u32>(t + MASK)) << 3);
  const v = <usize>load<u32>(slot, 4);
  if (load<u32>(slot) == id || v == 0) return v;
  return tableProbe(t, id);
}

/** Continues a lookup past an occupied home slot holding another id. */
export function tableProbe(t: usize, id: u32): usize {
  const slots = <usize>load<u32>(t + SLOTS);
  const mask = load<u32>(t + MASK);
  let i = (id + 1) & mask;
  while (true) {
    const slot = slots + (<usize>i << 3);
    const v = <usize>load<u32>(slot, 4);
    if (v == 0) return 0;
    if (load<u32>(slot) == id) return v;
    i = (i + 1) & mask;
  }
  return 0;
}

/** Stores `value` (non-zero) for `id`; returns the address it replaced, 0 if none. */
export function tableSet(t: usize, id: u32, value: usize): usize {
  if ((load<u32>(t + COUNT) + 1) * 4 > (load<u32>(t + MASK) + 1) * 3) tableGrow(t);
  const slots = <usize>load<u32>(t + SLOTS);
  const mask = load<u32>(t + MASK);
  let i = id & mask;
  while (true) {
    const slot = slots + (<usize>i << 3);
    const v = <usize>load<u32>(slot, 4);
    if (v == 0) {
      store<u32>(slot, id);
      store<u32>(slot, <u32>value, 4);
      store<u32>(t + COUNT, load<u32>(t + COUNT) + 1);
      return 0;
    }
    if (load<u32>(slot) == id) {
      store<u32>(slot, <u32>value, 4);
      return v;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/** Removes `id`; returns its address, 0 when it was absent. */
export function tableDelete(t: usize, id: u32): usize {
  const slots = <usize>load<u32>(t + SLOTS);
  const mask = load<u32>(t + MASK);
  let i = id & mask;
  let removed: usize = 0;
  while (true) {
    const slot = slots + (<usize>i << 3);
    removed = <usize>load<u32>(slot, 4);
    if (removed == 0) return 0;
    if (load<u32>(slot) == id) break;
    i = (i + 1) & mask;
  }
  // Backward shift: pull later entries of the probe run into the hole when their home slot
  // does not lie cyclically in (hole, j].
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const sj = slots + (<usize>j << 3);
    const v = load<u32>(sj, 4);
    if (v == 0) break;
    const k = load<u32>(sj);
    const home = k & mask;
    const homeInRange = i <= j ? home > i && home <= j : home > i || home <= j;
    if (!homeInRange) {
      const si = slots + (<usize>i << 3);
      store<u32>(si, k);
      store<u32>(si, v, 4);
      i = j;
    }
  }
  store<u32>(slots + (<usize>i << 3), 0, 4);
  store<u32>(t + COUNT, load<u32>(t + COUNT) - 1);
  return removed;
}

function tableGrow(t: usize): void {
  const old = <usize>load<u32>(t + SLOTS);
  const oldCap = load<u32>(t + MASK) + 1;
  initSlots(t, oldCap << 1);
  for (let i: u32 = 0; i < oldCap; i++) {
    const slot = old + (<usize>i << 3);
    const v = <usize>load<u32>(slot, 4);
    if (v != 0) tableSet(t, load<u32>(slot), v);
  }
  heap.free(old);
}
