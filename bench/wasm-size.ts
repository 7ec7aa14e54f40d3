/**
 * What a `.wasm` is made of, while looking for what to shrink: bytes per section, the largest
 * functions and the code bytes per source module. Names come from the module's `name` section,
 * so pass a build with names (e.g. `npx asc <entry> --config asconfig.json --target release
 * --debug --outFile /tmp/x.wasm`); BENCHMARKS.md's size section comes from bench/run.ts.
 *
 *   node --import tsx bench/wasm-size.ts <file.wasm> [--top n]
 */
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { byModule } from "./lib/size-report.js";
import { wasmAnatomy } from "./lib/wasm-anatomy.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

const program = new Command()
  .argument("<wasm>", "module to read")
  .option("--top <n>", "functions and modules to list", positiveInt, 25)
  .parse();
const o = program.opts<{ top: number }>();
const a = wasmAnatomy(await readFile(program.args[0]!));
console.log(`${a.total} bytes`);
for (const s of a.sections) console.log(`${String(s.bytes).padStart(8)}  section ${s.name}`);
console.log(`\nlargest functions`);
for (const f of [...a.functions].sort((x, y) => y.bytes - x.bytes).slice(0, o.top)) {
  console.log(`${String(f.bytes).padStart(8)}  ${f.name}`);
}
console.log(`\ncode by source module`);
for (const m of byModule(a.functions).slice(0, o.top)) console.log(`${String(m.bytes).padStart(8)}  ${m.module}`);
console.log(`\ndata: ${a.dataSegments.length} segments, ${a.dataSegments.reduce((s, n) => s + n, 0)} bytes`);
