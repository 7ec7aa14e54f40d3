/**
 * `npm run fuzz:thrift`: the Thrift decoder (assembly/codecs/thrift/decoder.ts) on 10^6 mutated
 * and random inputs inside wasm (test/fixtures/thrift-decoder), every transport × protocol
 * configuration and both decode modes, each input arriving in up to three reads at random cuts,
 * half the time with consumed bytes drained between messages. Fails (exit 1) on a trap (an
 * abort, or a broken invariant after Done: offsets outside the bytes seen) or when memory grows
 * after warm-up, printing the seed and the input.
 *
 *   npm run fuzz:thrift -- --seed 42 --iterations 100000 [--wasm build/fixtures/thrift-decoder.debug.wasm]
 *   npm run fuzz -- --filter thrift-decoder --iterations 1000000      (the same run, from npm run fuzz)
 */
import { randomInt } from "node:crypto";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { instantiateBare } from "../tools/harness/bare-module.js";
import { report, runIfMain } from "../tools/harness/cli.js";
import { BUILD } from "../tools/harness/drive.js";
import { thriftMessages } from "../test/fixtures/thrift-messages/messages.js";
import type { Seed } from "./corpus.js";
import { MAX_INPUT, Mutator } from "./mutate.js";
import { Rng } from "./rng.js";

export const THRIFT_DECODER_WASM = path.join(BUILD, "fixtures", "thrift-decoder.wasm");
/** `npm run fuzz -- --filter thrift-decoder` runs this driver instead of a proxy-wasm filter. */
export const THRIFT_DECODER_TARGET = "thrift-decoder";
export const DEFAULT_ITERATIONS = 1_000_000;

interface DecoderExports {
  memory: WebAssembly.Memory;
  input_buffer(len: number): number;
  configure(transport: number, protocol: number, mode: number, maxDepth: number, maxFrameSize: number): number;
  use(index: number): void;
  decode_stream(ptr: number, len: number, cut0: number, cut1: number, discardDone: number): number;
  decode_loop(ptr: number, len: number, n: number): number;
  last_error_kind(): number;
}

export async function loadThriftDecoder(wasm = THRIFT_DECODER_WASM): Promise<DecoderExports> {
  return (await instantiateBare(wasm, "thrift-decoder")) as unknown as DecoderExports;
}

/** transport, protocol, mode, max depth, max frame size (0 = default 16 MiB). */
const CONFIGS: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [0, 0, 0, 64, 0], // auto / auto
  [0, 0, 1, 64, 0],
  [1, 1, 0, 64, 0], // framed binary
  [1, 2, 0, 64, 0], // framed compact
  [1, 3, 0, 64, 0], // framed lax
  [1, 1, 1, 64, 0],
  [1, 2, 1, 64, 0],
  [2, 1, 0, 64, 0], // unframed binary
  [2, 2, 0, 64, 0], // unframed compact
  [2, 3, 0, 64, 0], // unframed lax
  [2, 2, 0, 3, 0], // shallow stack: depth errors on ordinary inputs
  [3, 0, 0, 64, 0], // header
  [3, 0, 1, 64, 0],
  [1, 0, 0, 64, 256], // small frame limit
];

export interface ThriftFuzzResult {
  readonly seed: number;
  readonly iterations: number;
  readonly messages: number;
  readonly errors: number;
  readonly needMore: number;
  readonly pagesWarm: number;
  readonly pagesEnd: number;
  readonly elapsedMs: number;
  readonly failure?: { readonly iteration: number; readonly message: string; readonly input: Uint8Array; readonly origin: string; readonly config: number };
}

export async function runThriftFuzz(seed: number, iterations: number, print = false, wasm = THRIFT_DECODER_WASM): Promise<ThriftFuzzResult> {
  const x = await loadThriftDecoder(wasm);
  const ids = CONFIGS.map((c) => x.configure(...c));
  const rng = new Rng(seed);
  const corpus: Seed[] = thriftMessages().map((m) => ({ name: m.label, bytes: new Uint8Array(m.bytes) }));
  // Several messages back to back: packed buffers walk the Done → next message path.
  for (let i = 0; i + 2 < corpus.length; i += 3) {
    const parts = [corpus[i]!, corpus[i + 1]!, corpus[i + 2]!];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p.bytes, o);
      o += p.bytes.length;
    }
    if (bytes.length <= MAX_INPUT) corpus.push({ name: parts.map((p) => p.name).join("+"), bytes });
  }
  const mutator = new Mutator(rng, corpus);
  const ptr = x.input_buffer(MAX_INPUT);
  const warmup = Math.min(5000, Math.floor(iterations / 10));
  const pages = (): number => x.memory.buffer.byteLength / 65536;
  let pagesWarm = pages();
  let messages = 0;
  let errors = 0;
  let needMore = 0;
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    if (i === warmup) pagesWarm = pages();
    const input = mutator.next();
    const config = rng.int(ids.length);
    const cut0 = rng.chance(0.3) ? -1 : rng.int(input.length + 1);
    const cut1 = rng.chance(0.3) ? -1 : rng.int(input.length + 1);
    const discard = rng.int(2);
    new Uint8Array(x.memory.buffer, ptr, input.length).set(input);
    try {
      x.use(ids[config]!);
      const r = x.decode_stream(ptr, input.length, cut0, cut1, discard);
      messages += r >> 2;
      if ((r & 3) === 2) errors++;
      else needMore++;
    } catch (err) {
      return {
        seed, iterations: i + 1, messages, errors, needMore, pagesWarm, pagesEnd: pages(), elapsedMs: performance.now() - started,
        failure: { iteration: i, message: err instanceof Error ? err.message : String(err), input: input.slice(), origin: `${mutator.origin} cuts ${cut0},${cut1} discard ${discard}`, config },
      };
    }
    if (print && i > 0 && i % 200_000 === 0) console.log(`fuzz:thrift: ${i.toLocaleString("en-US")} inputs, pages=${pages()}`);
  }
  const pagesEnd = pages();
  const result = { seed, iterations, messages, errors, needMore, pagesWarm, pagesEnd, elapsedMs: performance.now() - started };
  if (pagesEnd > pagesWarm) {
    return { ...result, failure: { iteration: iterations, message: `memory grew from ${pagesWarm} pages after warm-up to ${pagesEnd}`, input: new Uint8Array(0), origin: "", config: -1 } };
  }
  return result;
}

export function describeThriftFuzz(r: ThriftFuzzResult): string {
  const lines = [
    `fuzz:thrift: seed=${r.seed} inputs=${r.iterations.toLocaleString("en-US")} (${(r.elapsedMs / 1000).toFixed(1)} s) ` +
      `messages decoded=${r.messages.toLocaleString("en-US")} errors=${r.errors.toLocaleString("en-US")} need-more=${r.needMore.toLocaleString("en-US")}`,
    `fuzz:thrift: memory pages after warm-up=${r.pagesWarm} end=${r.pagesEnd}`,
  ];
  const f = r.failure;
  if (f) {
    lines.push(
      `fuzz:thrift: FAILED at input ${f.iteration}: ${f.message}`,
      `fuzz:thrift: replay with: npm run fuzz:thrift -- --seed ${r.seed} --iterations ${f.iteration + 1}`,
      `fuzz:thrift: config ${f.config >= 0 ? JSON.stringify(CONFIGS[f.config]) : "-"}; origin ${f.origin}`,
      `fuzz:thrift: input (${f.input.length} bytes, hex): ${Buffer.from(f.input).toString("hex")}`,
    );
  } else {
    lines.push("fuzz:thrift: OK (no trap, memory flat)");
  }
  return lines.join("\n");
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const o = new Command()
    .name("fuzz:thrift")
    .description("Mutated Thrift messages through the Thrift decoder in wasm")
    .option("--seed <n>", "PRNG seed (printed; default random)", nonNegativeInt)
    .option("--iterations <n>", "inputs", nonNegativeInt, DEFAULT_ITERATIONS)
    .option("--wasm <file>", "decoder module (the debug build keeps bounds checks)", THRIFT_DECODER_WASM)
    .parse()
    .opts<{ seed?: number; iterations: number; wasm: string }>();
  const seed = o.seed ?? randomInt(0, 0xffffffff);
  console.log(`fuzz:thrift: seed=${seed} iterations=${o.iterations} max-input=${MAX_INPUT}`);
  const r = await runThriftFuzz(seed, o.iterations, true, path.resolve(o.wasm));
  report(describeThriftFuzz(r), r.failure !== undefined);
}

runIfMain(import.meta.url, "fuzz:thrift", main);
