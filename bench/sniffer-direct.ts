/**
 * A quick look at the sniffer's own cost while working on it: the "direct" column of `npm run
 * bench` (exports called from JS over the minimal host of lib/shim.ts, sniffer − AS null) for a
 * few captures, in seconds instead of the whole bench. Informative only; BENCHMARKS.md comes
 * from bench/run.ts.
 *
 *   node --import tsx bench/sniffer-direct.ts [--wasm build/sniffer.wasm] [--captures a,b] [--iterations n]
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { SERVER_GREETING, loadCaptures } from "../tools/harness/captures.js";
import { BUILD } from "../tools/harness/drive.js";
import { ShimModule } from "./lib/shim.js";
import { SNIFFER_MODES, SNIFFER_WASM, snifferConfig } from "../tools/harness/sniffer.js";
import { measureInterleaved } from "./lib/stats.js";

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
  .parse()
  .opts<{ wasm: string; captures?: string; rounds: number; iterations: number }>();

const wanted = o.captures?.split(",");
const captures = (await loadCaptures()).filter((c) => !wanted || wanted.includes(c.name));
if (captures.length === 0) throw new Error(`no capture named ${o.captures}`);
const wasm = path.resolve(o.wasm);
const rootId = path.basename(wasm).replace(/(\.debug)?\.wasm$/, "");
const nullAs = await ShimModule.load(path.join(BUILD, "fixtures", "null.wasm"), "null", "");
for (const mode of SNIFFER_MODES) {
  const sniffer = await ShimModule.load(wasm, rootId, snifferConfig(mode));
  for (const c of captures) {
    // One read; the bench adds an eos read where that does not decide (none of the captures).
    const conn = { greeting: mode === "observe" && c.serverFirst ? SERVER_GREETING : undefined, data: c.bytes, eos: false };
    const s = measureInterleaved(
      new Map<string, (n: number) => void>([
        ["null", (n) => { for (let i = 0; i < n; i++) nullAs.connection(conn); }],
        ["sniffer", (n) => { for (let i = 0; i < n; i++) sniffer.connection(conn); }],
      ]),
      { rounds: o.rounds, iterations: o.iterations },
    );
    const n = s.get("null")!.median;
    const v = s.get("sniffer")!.median;
    console.log(`${mode.padEnd(8)} ${c.name.padEnd(28)} null ${n.toFixed(0).padStart(5)}  sniffer ${v.toFixed(0).padStart(5)}  added ${(v - n).toFixed(0).padStart(5)}  ${JSON.stringify(sniffer.count(conn))}`);
  }
}
