import {
  SLOT_SIZE, SLOT_VALUE, tableCapacity, tableDelete, tableGet, tableNew, tableSet, tableSize, tableSlotKey,
} from "../table";
import { DELETE, SET, TABLE_VECTORS } from "./table-vectors";

describe("context table", () => {
  it("finds what was set and nothing else", () => {
    const t = tableNew(4);
    expect(tableSet(t, 1, 100)).toBe(0);
    expect(tableSet(t, 0, 200)).toBe(0);
    expect(tableGet(t, 1)).toBe(100);
    expect(tableGet(t, 0)).toBe(200);
    expect(tableGet(t, 2)).toBe(0);
    expect(tableSize(t)).toBe(2);
  });

  it("replaces a value and returns the old one", () => {
    const t = tableNew(4);
    tableSet(t, 3, 30);
    expect(tableSet(t, 3, 31)).toBe(30);
    expect(tableGet(t, 3)).toBe(31);
    expect(tableSize(t)).toBe(1);
  });

  it("grows and keeps every entry", () => {
    const t = tableNew(4);
    for (let i: u32 = 1; i <= 300; i++) tableSet(t, i * 7, i);
    expect(tableSize(t)).toBe(300);
    for (let i: u32 = 1; i <= 300; i++) expect(tableGet(t, i * 7)).toBe(i);
  });

  it("keeps colliding entries reachable after deletes", () => {
    const t = tableNew(8);
    // 1, 9, 17 share home slot 1; 2 lands behind them.
    tableSet(t, 1, 1);
    tableSet(t, 9, 9);
    tableSet(t, 2, 2);
    tableSet(t, 17, 17);
    expect(tableDelete(t, 9)).toBe(9);
    expect(tableGet(t, 9)).toBe(0);
    expect(tableGet(t, 1)).toBe(1);
    expect(tableGet(t, 2)).toBe(2);
    expect(tableGet(t, 17)).toBe(17);
    expect(tableDelete(t, 1)).toBe(1);
    expect(tableGet(t, 17)).toBe(17);
    expect(tableGet(t, 2)).toBe(2);
    expect(tableDelete(t, 42)).toBe(0);
    expect(tableSize(t)).toBe(2);
  });

  it("answers absent for a stale key in an empty home slot", () => {
    const t = tableNew(8);
    tableSet(t, 5, 50);
    tableDelete(t, 5);
    expect(tableGet(t, 5)).toBe(0);
    tableSet(t, 13, 130);
    expect(tableGet(t, 5)).toBe(0);
    expect(tableGet(t, 13)).toBe(130);
  });

  it("wraps probe runs around the end", () => {
    const t = tableNew(8);
    tableSet(t, 7, 7);
    tableSet(t, 15, 15);
    tableSet(t, 23, 23);
    expect(tableDelete(t, 7)).toBe(7);
    expect(tableGet(t, 15)).toBe(15);
    expect(tableGet(t, 23)).toBe(23);
  });

  it("churns like connections without growing", () => {
    const t = tableNew(16);
    for (let i: u32 = 1; i <= 2000; i++) {
      tableSet(t, i, i);
      if (i > 4) expect(tableDelete(t, i - 4)).toBe(i - 4);
    }
    expect(tableSize(t)).toBe(4);
    expect(tableGet(t, 1999)).toBe(1999);
  });

  it("slots hold a u32 key and a usize-aligned usize value", () => {
    expect(SLOT_VALUE).toBe(sizeof<usize>());
    expect(SLOT_SIZE).toBe(2 * sizeof<usize>());
  });

  it("passes the vectors shared with the host emulator's ContextTable, slot layout included", () => {
    for (let v = 0; v < TABLE_VECTORS.length; v++) {
      const vec = TABLE_VECTORS[v];
      const t = tableNew(<u32>vec.capacity);
      for (let s = 0; s < vec.steps.length; s++) {
        const step = vec.steps[s];
        const op = step[0];
        const id = <u32>step[1];
        const expected = <usize>step[3];
        let before: usize;
        if (op == SET) before = tableSet(t, id, <usize>step[2]);
        else if (op == DELETE) before = tableDelete(t, id);
        else before = tableGet(t, id);
        expect(before).toBe(expected, vec.name + " step " + s.toString());
      }
      expect(tableCapacity(t)).toBe(<u32>vec.slots.length, vec.name);
      for (let i = 0; i < vec.slots.length; i++) {
        expect(tableSlotKey(t, <u32>i)).toBe(<u32>vec.slots[i], vec.name + " slot " + i.toString());
      }
    }
  });
});
