// Context id → object address. Envoy hands out context ids from a per-VM counter, so `id & mask`
// spreads live ids over distinct slots and a lookup is usually one probe. Open addressing with
// linear probing and backward-shift deletion (no tombstones); it grows at 3/4 load.
//
// The host emulator's ContextTable (test/host/vm.ts) runs the same algorithm (same growth rule,
// same deletion), and both pass the vectors in `__tests__/table-vectors.ts`, slot layout included.
//
// A table is a plain address rather than an object, so a lookup touches no managed reference
// (it was written against the incremental runtime's shadow stack, which spilled every one).
// The collector does not read these slots: callers keep the stored objects alive with __pin
// (context.ts), which the minimal runtime marks from (gc.ts). A slot is
// empty when its value is 0, so any u32 (0 included) can be a key.
//
// Layout, read and written only through the @inline helpers below:
//   header: slots (usize, address of the slot array), mask (u32, capacity - 1), count (u32)
//   slot:   key (u32), value (usize, at SLOT_VALUE); SLOT_SIZE bytes apart

const HEADER_SLOTS: usize = 0;
const HEADER_MASK: usize = sizeof<usize>();
const HEADER_COUNT: usize = HEADER_MASK + 4;
const HEADER_SIZE: usize = HEADER_COUNT + 4;
/** The value is usize-aligned after the u32 key. */
export const SLOT_VALUE: usize = sizeof<usize>();
export const SLOT_SIZE: usize = SLOT_VALUE + sizeof<usize>();

// @ts-ignore: decorator
@inline function slotsOf(t: usize): usize {
  return load<usize>(t, HEADER_SLOTS);
}

// @ts-ignore: decorator
@inline function maskOf(t: usize): u32 {
  return load<u32>(t, HEADER_MASK);
}

// @ts-ignore: decorator
@inline function countOf(t: usize): u32 {
  return load<u32>(t, HEADER_COUNT);
}

// @ts-ignore: decorator
@inline function setCount(t: usize, n: u32): void {
  store<u32>(t, n, HEADER_COUNT);
}

/** Address of slot `i` (already masked). */
// @ts-ignore: decorator
@inline function slotAt(slots: usize, i: u32): usize {
  return slots + <usize>i * SLOT_SIZE;
}

// @ts-ignore: decorator
@inline function slotKey(slot: usize): u32 {
  return load<u32>(slot);
}

/** 0 = empty slot. */
// @ts-ignore: decorator
@inline function slotValue(slot: usize): usize {
  return load<usize>(slot, SLOT_VALUE);
}

// @ts-ignore: decorator
@inline function fillSlot(slot: usize, id: u32, value: usize): void {
  store<u32>(slot, id);
  store<usize>(slot, value, SLOT_VALUE);
}

// @ts-ignore: decorator
@inline function emptySlot(slot: usize): void {
  store<usize>(slot, 0, SLOT_VALUE);
}

/** Whether one more entry would load the table past 3/4 (the emulator's twin uses the same rule). */
// @ts-ignore: decorator
@inline function mustGrow(count: u32, capacity: u32): bool {
  return (count + 1) * 4 > capacity * 3;
}

function initSlots(t: usize, capacity: u32): void {
  const bytes = <usize>capacity * SLOT_SIZE;
  const slots = heap.alloc(bytes);
  memory.fill(slots, 0, bytes);
  store<usize>(t, slots, HEADER_SLOTS);
  store<u32>(t, capacity - 1, HEADER_MASK);
  setCount(t, 0);
}

/** A new table with `capacityPow2` slots (a power of two). */
export function tableNew(capacityPow2: u32): usize {
  const t = heap.alloc(HEADER_SIZE);
  initSlots(t, capacityPow2);
  return t;
}

export function tableSize(t: usize): i32 {
  return <i32>countOf(t);
}

export function tableCapacity(t: usize): u32 {
  return maskOf(t) + 1;
}

/** The key in slot `i` (< capacity), 0 when the slot is empty: the layout, for the vectors. */
export function tableSlotKey(t: usize, i: u32): u32 {
  const slot = slotAt(slotsOf(t), i & maskOf(t));
  return slotValue(slot) == 0 ? 0 : slotKey(slot);
}

/**
 * Address stored for `id`, 0 when absent. The home slot answers directly when it holds `id` or
 * is empty (a stale key in an empty slot is harmless: an empty home slot means absent).
 */
// @ts-ignore: decorator
@inline export function tableGet(t: usize, id: u32): usize {
  const slot = slotAt(slotsOf(t), id & maskOf(t));
  const v = slotValue(slot);
  if (slotKey(slot) == id || v == 0) return v;
  return tableProbe(t, id);
}

/** Continues a lookup past an occupied home slot holding another id. */
export function tableProbe(t: usize, id: u32): usize {
  const slots = slotsOf(t);
  const mask = maskOf(t);
  let i = (id + 1) & mask;
  while (true) {
    const slot = slotAt(slots, i);
    const v = slotValue(slot);
    if (v == 0) return 0;
    if (slotKey(slot) == id) return v;
    i = (i + 1) & mask;
  }
  return 0;
}

/** Stores `value` (non-zero) for `id`; returns the address it replaced, 0 if none. */
export function tableSet(t: usize, id: u32, value: usize): usize {
  if (mustGrow(countOf(t), tableCapacity(t))) tableGrow(t);
  const slots = slotsOf(t);
  const mask = maskOf(t);
  let i = id & mask;
  while (true) {
    const slot = slotAt(slots, i);
    const v = slotValue(slot);
    if (v == 0) {
      fillSlot(slot, id, value);
      setCount(t, countOf(t) + 1);
      return 0;
    }
    if (slotKey(slot) == id) {
      fillSlot(slot, id, value);
      return v;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/** Whether `home` lies cyclically in (hole, j]: an entry there must stay behind the hole. */
// @ts-ignore: decorator
@inline function homeBetween(home: u32, hole: u32, j: u32): bool {
  return hole <= j ? home > hole && home <= j : home > hole || home <= j;
}

/** Removes `id`; returns its address, 0 when it was absent. */
export function tableDelete(t: usize, id: u32): usize {
  const slots = slotsOf(t);
  const mask = maskOf(t);
  let hole = id & mask;
  let removed: usize = 0;
  while (true) {
    const slot = slotAt(slots, hole);
    removed = slotValue(slot);
    if (removed == 0) return 0;
    if (slotKey(slot) == id) break;
    hole = (hole + 1) & mask;
  }
  // Backward shift: pull later entries of the probe run into the hole unless their home slot
  // lies cyclically in (hole, j].
  let j = hole;
  while (true) {
    j = (j + 1) & mask;
    const sj = slotAt(slots, j);
    const v = slotValue(sj);
    if (v == 0) break;
    const k = slotKey(sj);
    if (!homeBetween(k & mask, hole, j)) {
      fillSlot(slotAt(slots, hole), k, v);
      hole = j;
    }
  }
  emptySlot(slotAt(slots, hole));
  setCount(t, countOf(t) - 1);
  return removed;
}

function tableGrow(t: usize): void {
  const old = slotsOf(t);
  const oldCapacity = tableCapacity(t);
  initSlots(t, oldCapacity << 1);
  for (let i: u32 = 0; i < oldCapacity; i++) {
    const slot = slotAt(old, i);
    const v = slotValue(slot);
    if (v != 0) tableSet(t, slotKey(slot), v);
  }
  heap.free(old);
}
