// `malloc` and `free` as the host (and WAMR, which checks that both are exported) call them.
import { free, malloc } from "../exports";

describe("malloc / free exports", () => {
  it("free returns a block to the allocator: the next malloc of that size gets it back", () => {
    const a = malloc(48);
    expect(a).not.toBe(0);
    expect(a & 15).toBe(0, "heap.alloc payloads are 16-byte aligned");
    store<u64>(a, 0x0102030405060708);
    free(a);
    expect(malloc(48)).toBe(a);
    free(a);
  });

  it("many malloc/free rounds do not grow memory", () => {
    free(malloc(1000));
    const pages = memory.size();
    for (let i = 0; i < 10_000; i++) free(malloc(<usize>(i % 4096) + 1));
    expect(memory.size()).toBe(pages);
  });

  it("free(0) and a pointer that is no heap.alloc payload are ignored", () => {
    const a = malloc(32);
    free(0);
    free(a + 4);
    free(a + 1);
    // a is still allocated: a second block of the same size lands elsewhere.
    const b = malloc(32);
    expect(b).not.toBe(a);
    free(b);
    free(a);
  });

  it("an oversized request answers 0, and free(0) after it is harmless", () => {
    const p = malloc(<usize>1 << 31);
    expect(p).toBe(0);
    free(p);
  });
});
