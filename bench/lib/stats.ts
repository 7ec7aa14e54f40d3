/**
 * Timing primitives shared by every bench section, so all filters are measured the same way:
 * a warm-up pass (not recorded) lets V8 tier up both the JS host path and the wasm code, then
 * several rounds are timed and the median round is reported (robust to a noisy neighbour on a
 * shared 2-core machine).
 */

export interface Sample {
  /** Median of the per-round ns/op. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: number;
  readonly iterations: number;
}

export interface TimingOptions {
  readonly rounds: number;
  /** Operations per round. */
  readonly iterations: number;
}

/** Runs `body(iterations)` and returns ns per operation. */
export function timeOnce(body: (iterations: number) => void, iterations: number): number {
  const start = process.hrtime.bigint();
  body(iterations);
  const end = process.hrtime.bigint();
  return Number(end - start) / iterations;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(perRound: readonly number[], iterations: number): Sample {
  return {
    median: median(perRound),
    min: Math.min(...perRound),
    max: Math.max(...perRound),
    rounds: perRound.length,
    iterations,
  };
}

/**
 * Measures several competitors interleaved: warm-up for each, then in every round each
 * competitor runs once. Interleaving keeps a slow drift of the machine (another process, CPU
 * frequency) from landing on one competitor only.
 */
export function measureInterleaved<K extends string>(
  bodies: ReadonlyMap<K, (iterations: number) => void>,
  options: TimingOptions,
): Map<K, Sample> {
  const warmup = Math.max(1, Math.floor(options.iterations / 2));
  for (const body of bodies.values()) body(warmup);
  const perRound = new Map<K, number[]>();
  for (const key of bodies.keys()) perRound.set(key, []);
  for (let round = 0; round < options.rounds; round++) {
    for (const [key, body] of bodies) perRound.get(key)!.push(timeOnce(body, options.iterations));
  }
  const out = new Map<K, Sample>();
  for (const [key, values] of perRound) out.set(key, summarize(values, options.iterations));
  return out;
}

/**
 * Two competitors timed back to back in every round, alternating which goes first, plus the
 * per-round ratio a / b. On a loaded machine the two halves of a round see much the same
 * neighbours, so the median of the paired ratios is steadier than the ratio of two medians.
 */
export function measurePaired(
  a: (iterations: number) => void,
  b: (iterations: number) => void,
  options: TimingOptions,
): { a: Sample; b: Sample; ratio: Sample } {
  const warmup = Math.max(1, Math.floor(options.iterations / 2));
  a(warmup);
  b(warmup);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      ta.push(timeOnce(a, options.iterations));
      tb.push(timeOnce(b, options.iterations));
    } else {
      tb.push(timeOnce(b, options.iterations));
      ta.push(timeOnce(a, options.iterations));
    }
  }
  return {
    a: summarize(ta, options.iterations),
    b: summarize(tb, options.iterations),
    ratio: summarize(ta.map((t, i) => t / tb[i]!), options.iterations),
  };
}
