// Random choices of the RPC filters: weighted cluster picks and fault percentages. Deterministic
// under a seed so tests can assert splits. Pure code.
import { PERCENT_SCALE, Rule } from "./rule";

/** xorshift32: cheap, and good enough for traffic splits. */
export class Rng {
  state: u32;

  constructor(seed: u32) {
    this.state = seed == 0 ? 0x9e3779b9 : seed;
  }

  next(): u32 {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x;
  }

  /** Uniform in [0, n) (n ≥ 1), without modulo bias worth measuring at these weights. */
  below(n: u32): u32 {
    return <u32>((<u64>this.next() * <u64>n) >>> 32);
  }

  /** True for `milliPercent` / PERCENT_SCALE of the draws (0: never draws). */
  chance(milliPercent: i32): bool {
    return milliPercent > 0 && <i32>this.below(PERCENT_SCALE) < milliPercent;
  }
}

/** The cluster index a rule's route picks (one cluster: 0). */
export function pickCluster(r: Rule, rng: Rng): i32 {
  if (r.clusters.length <= 1) return 0;
  const x = rng.below(r.totalWeight);
  for (let i = 0; i < r.cumulative.length; i++) if (x < r.cumulative[i]) return i;
  return r.cumulative.length - 1;
}
