/**
 * A quick look at the sniffer's own cost while working on it: the "direct" column of `npm run
 * bench` (exports called from JS over the minimal host of lib/shim.ts, sniffer − AS null) for a
 * few captures, in seconds instead of the whole bench. Informative only; BENCHMARKS.md comes
 * from bench/run.ts.
 *
 *   node --import tsx bench/sniffer-direct.ts [--wasm build/sniffer.wasm] [--captures a,b] [--iterations n]
 *       [--baseline other/sniffer.wasm]
 *
 * With --baseline, a second sniffer build (e.g. one built from an earlier commit) is timed in the
 * same rounds as the first, back to back (bench/lib/stats.ts measurePaired), so both see the
 * same neighbours: each row adds that build's ns and the median of the per-round ratios
 * sniffer / baseline (= (sniffer / null) / (baseline / null), the null being the same), and the
 * run ends with the geometric mean of that ratio over the TLS rows and over all rows.
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { SERVER_GREETING, loadCaptures } from "../tools/harness/captures.js";
import { BUILD } from "../tools/harness/drive.js";
import { ShimModule } from "./lib/shim.js";
import { SNIFFER_MODES, SNIFFER_WASM, snifferConfig } from "../tools/harness/sniffer.js";
import { measureInterleaved, measurePaired } from "./lib/stats.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

const o = new Command()
  .option("--wasm <file>", "sniffer module", SNIFFER_WASM)
  .option("--captures <names>", "comma-separated capture names (default: all)")
  .option("--rounds <n>", "timed rounds", positiveInt, 9)
  .option("--iterations <n>", "connections per round", positiveInt, 20_000)
  .option("--baseline <file>", "a second sniffer module timed in the same rounds")
  .parse()
  .opts<{ wasm: string; captures?: string; rounds: number; iterations: number; baseline?: string }>();

const wanted = o.captures?.split(",");
const captures = (await loadCaptures()).filter((c) => !wanted || wanted.includes(c.name));
if (captures.length === 0) throw new Error(`no capture named ${o.captures}`);
const wasm = path.resolve(o.wasm);
const rootIdOf = (file: string): string => path.basename(file).replace(/(\.debug)?\.wasm$/, "");
const rootId = rootIdOf(wasm);
const baselineWasm = o.baseline === undefined ? undefined : path.resolve(o.baseline);
/**
 * Per row, the log of sniffer / baseline: the median of the per-round ratios and the ratio of
 * the fastest rounds (on a shared machine a neighbour only ever adds time), for the geometric
 * means at the end.
 */
const logRatios: { name: string; median: number; fastest: number }[] = [];
const nullAs = await ShimModule.load(path.join(BUILD, "fixtures", "null.wasm"), "null", "");
for (const mode of SNIFFER_MODES) {
  const sniffer = await ShimModule.load(wasm, rootId, snifferConfig(mode));
  const baseline = baselineWasm === undefined
    ? undefined
    : await ShimModule.load(baselineWasm, rootIdOf(baselineWasm), snifferConfig(mode));
  for (const c of captures) {
    // One read; the bench adds an eos read where that does not decide (none of the captures).
    const conn = { greeting: mode === "observe" && c.serverFirst ? SERVER_GREETING : undefined, data: c.bytes, eos: false };
    const runNull = (n: number): void => { for (let i = 0; i < n; i++) nullAs.connection(conn); };
    const runSniffer = (n: number): void => { for (let i = 0; i < n; i++) sniffer.connection(conn); };
    let n: number;
    let v: number;
    let vs = "";
    if (baseline) {
      // The two sniffers back to back in every round (paired); null's median only for the
      // columns (the same null divides both, so the ratio is sniffer / baseline per round).
      const runBaseline = (k: number): void => { for (let i = 0; i < k; i++) baseline.connection(conn); };
      n = measureInterleaved(new Map([["null", runNull]]), { rounds: 3, iterations: o.iterations }).get("null")!.median;
      const p = measurePaired(runSniffer, runBaseline, { rounds: o.rounds, iterations: o.iterations });
      v = p.a.median;
      const b = p.b.median;
      const ratio = p.ratio.median;
      const fastest = p.a.min / p.b.min;
      logRatios.push({ name: c.name, median: Math.log(ratio), fastest: Math.log(fastest) });
      vs = `  baseline ${b.toFixed(0).padStart(5)}  sniffer/baseline ${ratio.toFixed(3)} (fastest rounds ${fastest.toFixed(3)})`;
    } else {
      const s = measureInterleaved(new Map([["null", runNull], ["sniffer", runSniffer]]), { rounds: o.rounds, iterations: o.iterations });
      n = s.get("null")!.median;
      v = s.get("sniffer")!.median;
    }
    console.log(`${mode.padEnd(8)} ${c.name.padEnd(28)} null ${n.toFixed(0).padStart(5)}  sniffer ${v.toFixed(0).padStart(5)}  added ${(v - n).toFixed(0).padStart(5)}${vs}  ${JSON.stringify(sniffer.count(conn))}`);
  }
}

if (logRatios.length > 0) {
  const geomean = (rows: readonly { median: number; fastest: number }[]): string => {
    if (rows.length === 0) return "-";
    const mean = (k: "median" | "fastest"): string => Math.exp(rows.reduce((a, r) => a + r[k], 0) / rows.length).toFixed(3);
    return `${mean("median")} (fastest rounds ${mean("fastest")}) over ${rows.length}`;
  };
  const tls = logRatios.filter((r) => r.name.startsWith("tls"));
  console.log(`sniffer / baseline, geometric mean: tls rows ${geomean(tls)}; all rows ${geomean(logRatios)}`);
}
