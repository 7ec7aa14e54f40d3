/**
 * Fuzz target for the Dubbo decoder (assembly/codecs/dubbo/decoder.ts), compiled alone to wasm
 * (test/fixtures/dubbo-codec) and run in V8 as Envoy runs a filter. Inputs: the hessian.js
 * fixtures (test/fixtures/dubbo/generate.ts), several of them packed per input, hand-built
 * hostile bodies, mutations of all of these, and noise. Each input is decoded as a connection
 * would see it: a buffer growing in three random steps, consumed bytes sometimes dropped from
 * the front, every field read after each Done. Four decoders: Header, Route and Full level, and
 * Full with tight limits (max body 256, depth 8, 4 attachments). Fails on a trap, an abort, an
 * Error without a message, or memory that keeps growing.
 *
 *   npm run fuzz -- --target dubbo-decoder [--seed N] [--iterations N]
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { randomInt } from "node:crypto";
import { pathToFileURL } from "node:url";
import { fixtures } from "../test/fixtures/dubbo/generate.js";
import { BUILD } from "../tools/harness/drive.js";
import type { Seed } from "./corpus.js";
import { MAX_INPUT, Mutator } from "./mutate.js";
import { Rng } from "./rng.js";

export const DUBBO_FUZZ_WASM = path.join(BUILD, "fixtures", "dubbo-codec.wasm");
export const DUBBO_FUZZ_ITERATIONS = 1_000_000;

interface CodecExports {
  memory: WebAssembly.Memory;
  input_buffer(len: number): number;
  configure(level: number, maxBody: number, maxDepth: number, maxAttachments: number): void;
  /** `mode`: bit 0 drops consumed bytes from the front, bit 1 drops unread bodies uncopied (skipUnread). */
  fuzz_one(ptr: number, len: number, cut1: number, cut2: number, mode: number): number;
  last_error_length(): number;
}

/** [level, maxBody, maxDepth, maxAttachments] per decoder (0 = the decoder's default). */
const DECODERS: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0, 0, 0],
  [1, 0, 0, 0],
  [2, 0, 0, 0],
  [2, 256, 8, 4],
];

function header(flags: number, status: number, body: Uint8Array): Uint8Array {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flags;
  h[3] = status;
  h.writeBigInt64BE(99n, 4);
  h.writeInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

const str = (s: string): number[] => [s.length, ...Buffer.from(s, "latin1")];

/** Hostile bodies the mutator is unlikely to reach from the fixtures. */
function hostile(): Seed[] {
  const prefix = [...str("2.0.2"), ...str("S"), ...str("0"), ...str("m")];
  const nested = (open: number, n: number): Uint8Array => Uint8Array.from([...prefix, ...str("Ljava/lang/Object;"), ...new Array<number>(n).fill(open)]);
  const classes: number[] = [...prefix, ...str("Ljava/lang/Object;")];
  for (let i = 0; i < 40; i++) classes.push(0x43, ...str(`C${i}`), 0x91, ...str("f"));
  classes.push(0x60, 0x4e, 0x48, 0x5a);
  return [
    { name: "nested-lists", bytes: header(0xc2, 0, nested(0x57, 300)) },
    { name: "nested-maps", bytes: header(0xc2, 0, nested(0x48, 300)) },
    { name: "nested-objects", bytes: header(0xc2, 0, Uint8Array.from([...prefix, ...str("Ljava/lang/Object;"), 0x43, ...str("N"), 0x91, ...str("x"), ...new Array<number>(200).fill(0x60)])) },
    { name: "class-defs", bytes: header(0xc2, 0, Uint8Array.from(classes)) },
    { name: "huge-list", bytes: header(0xc2, 0, Uint8Array.from([...prefix, ...str("[J"), 0x58, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x90])) },
    { name: "heartbeat", bytes: header(0xe2, 0, Uint8Array.from([0x4e])) },
    { name: "response-error", bytes: header(0x02, 70, Uint8Array.from(str("boom"))) },
  ];
}

export function dubboCorpus(): Seed[] {
  const list = fixtures();
  const seeds: Seed[] = list.map((f) => ({ name: `dubbo:${f.name}`, bytes: new Uint8Array(f.bytes) }));
  const small = list.filter((f) => f.bytes.length < 1024);
  // Several frames per input: a request and its response, a heartbeat between calls.
  for (let i = 0; i + 2 < small.length; i += 3) {
    seeds.push({ name: `dubbo:packed-${i}`, bytes: new Uint8Array(Buffer.concat([small[i]!.bytes, small[i + 1]!.bytes, small[i + 2]!.bytes])) });
  }
  seeds.push(...hostile());
  return seeds;
}

async function instantiate(): Promise<CodecExports> {
  const module = await WebAssembly.compile(await readFile(DUBBO_FUZZ_WASM));
  const imports: Record<string, Record<string, (...args: number[]) => number>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] = imp.name === "proxy_log"
      ? () => 0
      : () => {
          throw new Error(`dubbo-codec called ${imp.module}.${imp.name} (abort)`);
        };
  }
  return (await WebAssembly.instantiate(module, imports)).exports as unknown as CodecExports;
}

export interface DubboFuzzResult {
  readonly seed: number;
  readonly iterations: number;
  readonly corpusSize: number;
  readonly inputBytes: number;
  readonly frames: number;
  readonly errors: number;
  /** Memory pages per decoder: after warm-up and at the end. */
  readonly pages: ReadonlyArray<{ warm: number; end: number }>;
  readonly elapsedMs: number;
  readonly failure?: { iteration: number; message: string; origin: string; input: string };
}

export async function runDubboFuzz(options: { seed: number; iterations: number; warmup?: number; slackPages?: number; print?: boolean }): Promise<DubboFuzzResult> {
  const rng = new Rng(options.seed);
  const corpus = dubboCorpus();
  const mutator = new Mutator(rng, corpus);
  const decoders = await Promise.all(DECODERS.map(async ([level, maxBody, maxDepth, maxAttachments]) => {
    const x = await instantiate();
    x.configure(level, maxBody, maxDepth, maxAttachments);
    return { x, ptr: x.input_buffer(MAX_INPUT) };
  }));
  const warmup = options.warmup ?? Math.min(20_000, Math.floor(options.iterations / 10));
  const slack = options.slackPages ?? 2;
  const pages = decoders.map(() => ({ warm: 0, end: 0 }));
  const pagesOf = (x: CodecExports): number => x.memory.buffer.byteLength / 65536;
  const started = performance.now();
  let inputBytes = 0;
  let frames = 0;
  let errors = 0;
  let failure: DubboFuzzResult["failure"];
  let i = 0;
  for (; i < options.iterations; i++) {
    if (i === warmup) decoders.forEach((d, k) => (pages[k]!.warm = pagesOf(d.x)));
    const input = mutator.next();
    inputBytes += input.length;
    const d = decoders[i % decoders.length]!;
    const cut1 = rng.int(input.length + 1);
    const cut2 = cut1 + rng.int(input.length - cut1 + 1);
    const discard = rng.chance(0.5) ? 1 : 0;
    const skip = rng.chance(0.5) ? 2 : 0;
    try {
      // The decoder's memory may have grown (and its buffer moved) since the last call.
      new Uint8Array(d.x.memory.buffer, d.ptr, input.length).set(input);
      const r = d.x.fuzz_one(d.ptr, input.length, cut1, cut2, discard | skip);
      if (r === -(1 << 30)) throw new Error("an attachment key read back was not found by attachmentIndex");
      if (r < 0) {
        errors++;
        frames += -r - 1;
        if (d.x.last_error_length() === 0) throw new Error("Error without a message");
      } else {
        frames += r;
      }
    } catch (err) {
      failure = {
        iteration: i,
        message: err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err),
        origin: `${mutator.origin}; decoder ${JSON.stringify(DECODERS[i % decoders.length])}, cuts ${cut1}/${cut2}, discard ${discard}, skip unread ${skip >> 1}`,
        input: Buffer.from(input).toString("hex"),
      };
      break;
    }
    if (options.print && i > 0 && i % 200_000 === 0) console.log(`fuzz dubbo: ${i.toLocaleString("en-US")} inputs, pages ${decoders.map((x) => pagesOf(x.x)).join("/")}`);
  }
  if (options.iterations <= warmup) decoders.forEach((d, k) => (pages[k]!.warm = pagesOf(d.x)));
  decoders.forEach((d, k) => (pages[k]!.end = pagesOf(d.x)));
  if (!failure) {
    const k = pages.findIndex((p) => p.end > p.warm + slack);
    if (k >= 0) failure = { iteration: i, message: `memory of decoder ${k} grew from ${pages[k]!.warm} pages after warm-up to ${pages[k]!.end} (slack ${slack})`, origin: "", input: "" };
  }
  return {
    seed: options.seed,
    iterations: failure ? failure.iteration + 1 : options.iterations,
    corpusSize: corpus.length,
    inputBytes,
    frames,
    errors,
    pages,
    elapsedMs: performance.now() - started,
    failure,
  };
}

export function describeDubboFuzz(r: DubboFuzzResult): string {
  const lines = [
    `fuzz dubbo-decoder: seed=${r.seed} inputs=${r.iterations.toLocaleString("en-US")} (${(r.elapsedMs / 1000).toFixed(1)} s), corpus ${r.corpusSize} seeds, ${r.inputBytes.toLocaleString("en-US")} bytes`,
    `fuzz dubbo-decoder: ${r.frames.toLocaleString("en-US")} frames decoded, ${r.errors.toLocaleString("en-US")} inputs ended in a decoder Error (a value, not a trap)`,
    `fuzz dubbo-decoder: memory pages after warm-up/end per decoder: ${r.pages.map((p) => `${p.warm}/${p.end}`).join(", ")}`,
  ];
  if (r.failure) {
    lines.push(
      `fuzz dubbo-decoder: FAILED at input ${r.failure.iteration}: ${r.failure.message}`,
      `fuzz dubbo-decoder: replay with: npm run fuzz -- --target dubbo-decoder --seed ${r.seed} --iterations ${r.iterations}`,
      `fuzz dubbo-decoder: origin: ${r.failure.origin}`,
      `fuzz dubbo-decoder: input (hex): ${r.failure.input}`,
    );
  } else {
    lines.push("fuzz dubbo-decoder: OK (0 traps, memory flat)");
  }
  return lines.join("\n");
}

export async function dubboFuzzMain(seed: number | undefined, iterations: number | undefined): Promise<boolean> {
  const chosen = seed ?? randomInt(0, 0xffffffff);
  const n = iterations ?? DUBBO_FUZZ_ITERATIONS;
  console.log(`fuzz dubbo-decoder: seed=${chosen} inputs=${n} max-input=${MAX_INPUT}`);
  const r = await runDubboFuzz({ seed: chosen, iterations: n, print: true });
  const text = describeDubboFuzz(r);
  if (r.failure) console.error(text);
  else console.log(text);
  return !r.failure;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): number | undefined => {
    const k = process.argv.indexOf(name);
    return k >= 0 ? Number(process.argv[k + 1]) : undefined;
  };
  dubboFuzzMain(arg("--seed"), arg("--iterations")).then(
    (ok) => (process.exitCode = ok ? 0 : 1),
    (err: unknown) => {
      console.error(`fuzz dubbo-decoder: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
