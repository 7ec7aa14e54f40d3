import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ContextTable } from "./vm.js";
import { DELETE, SET, TABLE_VECTORS } from "../../assembly/runtime/__tests__/table-vectors.js";

// The same vectors run against the modules' table in assembly/runtime/__tests__/table.spec.ts.
describe("ContextTable (host emulator) against the shared table vectors", () => {
  for (const vec of TABLE_VECTORS) {
    it(vec.name, () => {
      const t = new ContextTable<number>(vec.capacity);
      vec.steps.forEach(([op, id, value, expected], s) => {
        // The emulator's set/delete do not return the old value: read it first.
        const before = t.get(id!) ?? 0;
        if (op === SET) t.set(id!, value!);
        else if (op === DELETE) assert.equal(t.delete(id!), expected !== 0, `${vec.name} step ${s}: delete`);
        assert.equal(before, expected, `${vec.name} step ${s}`);
      });
      assert.equal(t.capacity, vec.slots.length);
      assert.deepEqual(t.slotKeys(), vec.slots);
      assert.equal(t.size, vec.slots.filter((k) => k !== 0).length);
    });
  }

  it("refuses id 0 (the VM context marks empty slots)", () => {
    assert.throws(() => new ContextTable<number>().set(0, 1), /context id 0/);
  });
});
