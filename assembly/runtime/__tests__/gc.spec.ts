import { COLLECT_MAX, COLLECT_MIN, GARBAGE_SHIFT, garbageBudget, nextInterval } from "../gc";

describe("collection interval (gc.ts)", () => {
  it("doubles towards the ceiling while collections find no garbage", () => {
    expect(nextInterval(256, 0, 6000, 256)).toBe(512);
    expect(nextInterval(512, 0, 6000, 512)).toBe(1024);
    expect(nextInterval(2048, 0, 6000, 2048)).toBe(COLLECT_MAX);
    expect(nextInterval(COLLECT_MAX, 0, 1, COLLECT_MAX)).toBe(COLLECT_MAX);
  });

  it("is the floor when the budget was spent faster than the floor allows", () => {
    expect(nextInterval(256, 1 << 20, 6000, 4096)).toBe(COLLECT_MIN);
    expect(nextInterval(1, 6000, 6000, 4096)).toBe(COLLECT_MIN);
  });

  it("spends the budget at the measured rate between the bounds", () => {
    // 1,000 callbacks made 3,000 bytes of garbage (3 per callback): 6,000 bytes last 2,000.
    expect(nextInterval(1000, 2999, 6000, 4096)).toBe(2000);
    expect(nextInterval(4000, 23999, 6000, 4096)).toBe(1000);
    // Shrinks at once, grows at most twofold per collection.
    expect(nextInterval(1000, 2999, 6000, 600)).toBe(1200);
  });

  it("never overflows on a large budget and many callbacks", () => {
    expect(nextInterval(u32.MAX_VALUE, 1, usize.MAX_VALUE, u32.MAX_VALUE)).toBe(COLLECT_MAX);
  });

  it("budgets a share of the memory above the static data", () => {
    const pages: i32 = <i32>((__heap_base + 0xffff) >> 16) + 2;
    expect(garbageBudget(pages)).toBe(((<usize>pages << 16) - __heap_base) >> GARBAGE_SHIFT);
    expect(garbageBudget(pages + 1) - garbageBudget(pages)).toBe(<usize>(1 << 16) >> GARBAGE_SHIFT);
  });

  it("keeps the fixed interval it replaced as the floor", () => {
    expect(COLLECT_MIN).toBe(256);
    expect(COLLECT_MAX).toBeGreaterThan(COLLECT_MIN);
  });
});
