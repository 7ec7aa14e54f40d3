/**
 * The fuzz harness's "memory flat" check (fuzz/run.ts memoryVerdict): a live set that peaks once
 * passes, a leak fails, whether it keeps doubling the memory or leaks too slowly to double again
 * before the run ends. The filters are test/fixtures/memory-shape built with the minimal runtime
 * ("hold=<n>": n bytes per open connection; "leak=<n>": n bytes per connection never freed).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { BUILD } from "../../tools/harness/drive.js";
import { findRoot, heapBase, heapStats } from "../../fuzz/heap.js";
import { describe as describeFuzz, FLOOR_SLACK_BYTES, floors, memoryVerdict, runFuzz, type MemoryEvidence } from "../../fuzz/run.js";

const shape = (configuration: string) =>
  runFuzz({ seed: 7, iterations: 4000, filter: "memory-shape", configuration, warmup: 5, lingerChance: 0.08 });

describe("memoryVerdict", () => {
  const run: MemoryEvidence = { warmup: 500, iterations: 100_500, slackPages: 2, pagesWarm: 3, pagesEnd: 6 };
  const cases: Array<[string, Partial<MemoryEvidence>, RegExp | undefined]> = [
    ["growth within the slack", { pagesEnd: 5, lastGrowth: 100_000 }, undefined],
    ["one doubling early, floor level", { lastGrowth: 20_000, floorFirst: 30_000, floorSecond: 31_000 }, undefined],
    ["the last growth at the middle", { lastGrowth: 50_500 }, undefined],
    ["a growth just after the middle", { lastGrowth: 50_501 }, /still growing at iteration 50501 of 100500 \(growth must stop by iteration 50500\)/],
    ["growth late in the run", { pagesEnd: 24, lastGrowth: 99_000 }, /memory grew from 3 pages after warm-up to 24 \(slack 2\) and was still growing/],
    [
      "one doubling early, floor rising",
      { lastGrowth: 20_000, floorFirst: 30_000, floorSecond: 30_001 + FLOOR_SLACK_BYTES, floorOpen: 7 },
      /floor with 7 connections open rose from 30000 in the first half to 46385 in the second/,
    ],
    ["floor risen by exactly the slack", { lastGrowth: 20_000, floorFirst: 30_000, floorSecond: 30_000 + FLOOR_SLACK_BYTES }, undefined],
    ["no heap to walk (a C module): growth stopped early", { lastGrowth: 20_000 }, undefined],
  ];
  for (const [name, change, expected] of cases) {
    test(name, () => {
      const verdict = memoryVerdict({ ...run, ...change });
      if (expected) assert.match(verdict ?? "(flat)", expected);
      else assert.equal(verdict, undefined);
    });
  }

  test("floors compares the halves at the same number of connections open, taking the least rise", () => {
    const first = new Map([[2, 10_000], [7, 40_000], [8, 45_000]]);
    const second = new Map([[7, 41_000], [8, 90_000], [9, 5_000]]);
    assert.deepEqual(floors(first, second), { open: 7, first: 40_000, second: 41_000 });
    assert.equal(floors(first, new Map([[3, 1]])), undefined);
  });
});

describe("the TLSF heap walk", () => {
  test("finds the sniffer's allocator root and accounts for every byte of its heap", async () => {
    const wasm = path.join(BUILD, "sniffer.wasm");
    const r = await runFuzz({ seed: 3, iterations: 400, filter: wasm, warmup: 10, tracePages: true });
    assert.equal(r.failure, undefined, r.failure && describeFuzz(r));
    const end = r.pagesTrace?.at(-1);
    assert.ok(end?.heap, "the heap could not be walked");
    assert.equal(end.reason, "end");
    // Used and free blocks tile the memory from just after the root to the tail.
    const base = heapBase(readFileSync(wasm));
    const size = end.pages * 65536;
    assert.ok(end.heap.used + end.heap.free < size - base, `${end.heap.used} + ${end.heap.free} vs ${size - base}`);
    assert.ok(end.heap.used + end.heap.free > size - base - 2048, `${end.heap.used} + ${end.heap.free} vs ${size - base}`);
    assert.ok(end.heap.largestFree <= end.heap.free);
    assert.ok(r.floorFirst !== undefined && r.floorSecond !== undefined);
  });

  test("gives up on memory that is not a TLSF heap", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    new Uint8Array(memory.buffer).fill(0xab);
    assert.equal(findRoot(memory, 1024), undefined);
    assert.equal(heapStats(memory, 1024), undefined);
  });
});

describe("the memory check on filters built to leak or to peak", () => {
  test("a filter that leaks 64 bytes per connection fails: its memory keeps doubling", async () => {
    const r = await shape("leak=64");
    assert.equal(r.failure?.kind, "memory", describeFuzz(r));
    assert.ok(r.growths >= 2, describeFuzz(r));
    assert.match(describeFuzz(r), /FAILED \(memory\)/);
  });

  test("a filter that leaks 16 bytes per connection fails: its memory stops doubling early, its floor rises", async () => {
    const r = await shape("leak=16");
    assert.equal(r.failure?.kind, "memory", describeFuzz(r));
    assert.match(r.failure.message, /floor with \d+ connections open rose/);
  });

  test("a filter holding 8 KiB per open connection grows past the slack once and passes", async () => {
    const r = await shape("hold=8192");
    assert.equal(r.failure, undefined, describeFuzz(r));
    // The old check (pages within warm-up + slack) would have failed this run.
    assert.ok(r.pagesEnd > r.pagesWarm + 2, describeFuzz(r));
    assert.ok(r.lastGrowth !== undefined && r.lastGrowth < 1000, describeFuzz(r));
    assert.equal(r.peakOpen, 9);
  });
});
