/**
 * Seeded PRNG (mulberry32): one 32-bit state, a few integer ops per draw, so the fuzz loop stays
 * cheap enough for millions of first flights, and a printed seed replays a run exactly.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform uint32. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n). n must be ≥ 1. */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  fill(out: Uint8Array, start = 0, end = out.length): void {
    let i = start;
    while (i + 4 <= end) {
      const v = this.next();
      out[i++] = v & 0xff;
      out[i++] = (v >>> 8) & 0xff;
      out[i++] = (v >>> 16) & 0xff;
      out[i++] = v >>> 24;
    }
    while (i < end) out[i++] = this.next() & 0xff;
  }
}
