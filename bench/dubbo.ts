/**
 * The Dubbo decoder's cost per request (assembly/codecs/dubbo/decoder.ts), in wasm, through the
 * `dubbo-codec` test module (test/fixtures/dubbo-codec, built on the filters' minimal runtime): one
 * JS → wasm call decodes many identical requests that arrive back to back (up to MAX_PER_PASS per
 * pass, one decoder reset per pass, as per connection), so the call's cost is spread out. Rows per
 * body size (100 B, 10 KiB, 1 MiB):
 *   - header only (level Header): the body is skipped by length — flat in the body size;
 *   - route (level Route): header + dubbo version, service, version, method as offsets;
 *   - the same route path in plain C (bench/dubbo-c/dubbo.c, clang wasm32 -O3) over the same
 *     bytes: the floor;
 *   - full (level Full): + parameter types, every argument skipped, attachments (information).
 * The goal is route ≤ 1.5× the C floor. When clang is absent the C rows are skipped (one line).
 *
 *   node --import tsx bench/dubbo.ts        (this section alone; `npm run bench` includes it)
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { EncoderV2 } from "hessian.js";
import { BUILD, REPO } from "../tools/harness/drive.js";
import { ns, ratio, table } from "../tools/harness/markdown.js";
import { measureInterleaved, measurePaired, type Sample } from "./lib/stats.js";

const run = promisify(execFile);

export const DUBBO_GOAL = 1.5;
export const BODY_SIZES = [100, 10 * 1024, 1024 * 1024] as const;
const C_SOURCE = path.join(REPO, "bench", "dubbo-c", "dubbo.c");
// Not under build/fixtures: that directory holds the modules that must be safe on WAMR
// (test/runtime/wamr-exports.test.ts); this one only runs here, in V8.
const C_WASM = path.join(BUILD, "bench", "dubbo-c.wasm");
const AS_WASM = path.join(BUILD, "fixtures", "dubbo-codec.wasm");

interface CodecExports {
  memory: WebAssembly.Memory;
  input_buffer(len: number): number;
  decode_loop(ptr: number, len: number, n: number): number;
  configure?(level: number, maxBody: number, maxDepth: number, maxAttachments: number): void;
}

export interface DubboRow {
  readonly bodyBytes: number;
  /** Requests back to back per pass (one decoder reset per pass). */
  readonly perPass: number;
  readonly header: Sample;
  readonly route: Sample;
  readonly full: Sample;
  /** Undefined when clang is absent. */
  readonly c?: Sample;
  /** route / C of each round (both timed back to back in it); undefined when clang is absent. */
  readonly ratio?: Sample;
}

export interface DubboReport {
  readonly rows: DubboRow[];
  /** Why the C floor is missing, when it is. */
  readonly skipped?: string;
}

/** A two-way Hessian2 request whose body is exactly `bodyBytes` (the argument string is padded). */
export function dubboRequest(bodyBytes: number): Buffer {
  const encode = (pad: number): Buffer => {
    const e = new EncoderV2();
    e.write("2.0.2").write("com.acme.Greeter").write("0.0.0").write("sayHi").write("Ljava/lang/String;").write("x".repeat(pad));
    e.write({ path: "com.acme.Greeter" });
    return e.get();
  };
  let pad = Math.max(0, bodyBytes - encode(0).length);
  let body = encode(pad);
  // String headers grow at 32 / 1024 chars and per 32768-char chunk: converge on the exact size.
  for (let i = 0; i < 8 && body.length !== bodyBytes; i++) {
    pad = Math.max(0, pad + bodyBytes - body.length);
    body = encode(pad);
  }
  if (body.length !== bodyBytes) throw new Error(`dubbo bench: cannot build a ${bodyBytes}-byte body (got ${body.length})`);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = 0xc2;
  h.writeBigInt64BE(1n, 4);
  h.writeInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

async function instantiate(file: string): Promise<CodecExports> {
  const module = await WebAssembly.compile(await readFile(file));
  const imports: Record<string, Record<string, (...args: number[]) => number>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] = imp.name === "proxy_log"
      ? () => 0
      : () => {
          throw new Error(`${path.basename(file)} called ${imp.module}.${imp.name} (abort?)`);
        };
  }
  const instance = await WebAssembly.instantiate(module, imports);
  return instance.exports as unknown as CodecExports;
}

/** Compiles the C floor when clang is on PATH; returns why not otherwise. */
export async function buildDubboC(): Promise<string | undefined> {
  await mkdir(path.dirname(C_WASM), { recursive: true });
  try {
    await run("clang", ["--target=wasm32", "-nostdlib", "-O3", "-Wl,--no-entry", "-Wl,--export-dynamic", "-o", C_WASM, C_SOURCE]);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === "ENOENT" ? "clang not on PATH: C floor (bench/dubbo-c) skipped" : `clang failed on bench/dubbo-c/dubbo.c: ${e.message}`;
  }
}

/** Bytes of back-to-back requests per pass (the C floor's input holds 8 MiB). */
const PASS_BYTES = 8 * 1024 * 1024;
/** Requests per pass: a connection's requests arrive back to back; the decoder is reset per pass. */
export const MAX_PER_PASS = 64;

/** `frame` repeated as often as one pass holds (at most MAX_PER_PASS times). */
export function requestStream(frame: Buffer): { bytes: Buffer; requests: number } {
  const requests = Math.max(1, Math.min(MAX_PER_PASS, Math.floor(PASS_BYTES / frame.length)));
  return { bytes: Buffer.concat(Array.from({ length: requests }, () => frame)), requests };
}

/** `run(n)`: n requests, n a multiple of `stream.requests`. */
function body(x: CodecExports, stream: { bytes: Buffer; requests: number }): { run: (n: number) => void; frames: number } {
  const { bytes, requests } = stream;
  const ptr = x.input_buffer(bytes.length);
  if (ptr === 0) throw new Error(`dubbo bench: module has no room for ${bytes.length} bytes of requests`);
  new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
  const frames = x.decode_loop(ptr, bytes.length, 1);
  return { run: (n: number) => void x.decode_loop(ptr, bytes.length, n / requests), frames };
}

export async function measureDubbo(options: { rounds: number; iterations: number }): Promise<DubboReport> {
  if (!existsSync(AS_WASM)) throw new Error(`${path.relative(REPO, AS_WASM)} is missing: run npm run build`);
  const levels = await Promise.all([0, 1, 2].map(async (level) => {
    const x = await instantiate(AS_WASM);
    x.configure!(level, 0, 0, 0);
    return x;
  }));
  const skipped = await buildDubboC();
  const c = skipped ? undefined : await instantiate(C_WASM);
  const rows: DubboRow[] = [];
  for (const size of BODY_SIZES) {
    const stream = requestStream(dubboRequest(size));
    const [h, r, f] = levels.map((x) => body(x, stream));
    const cb = c ? body(c, stream) : undefined;
    for (const [name, b] of [["header", h], ["route", r], ["full", f], ["c", cb]] as const) {
      if (b && b.frames !== stream.requests) throw new Error(`dubbo bench: ${name} decoded ${b.frames} frames of ${stream.requests} ${size}-byte requests`);
    }
    // Whole passes: iterations rounded up to a multiple of the requests per pass.
    const whole = (n: number): number => Math.ceil(n / stream.requests) * stream.requests;
    const timing = { rounds: options.rounds, iterations: whole(options.iterations) };
    const header = measureInterleaved(new Map([["header", h!.run]]), timing).get("header")!;
    // Route and its floor back to back in every round: the ratio of the same round is what a
    // loaded machine disturbs least.
    const paired = cb ? measurePaired(r!.run, cb.run, timing) : undefined;
    const route = paired ? paired.a : measureInterleaved(new Map([["route", r!.run]]), timing).get("route")!;
    // Full decoding walks the whole body: fewer iterations for the large ones.
    const fullIterations = Math.max(20, Math.floor(options.iterations * Math.min(1, 200 / size)));
    const full = measureInterleaved(new Map([["full", f!.run]]), { rounds: options.rounds, iterations: whole(fullIterations) }).get("full")!;
    rows.push({ bodyBytes: size, perPass: stream.requests, header, route, full, c: paired?.b, ratio: paired?.ratio });
  }
  return { rows, skipped };
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

export function renderDubbo(r: DubboReport, options: { rounds: number; iterations: number }): string[] {
  const out: string[] = ["## Dubbo decoder (issue 7)", ""];
  out.push(
    `\`test/fixtures/dubbo-codec\` (built on the filters' minimal runtime, as a filter runs the decoder) runs \`DubboDecoder.reset()\`, then \`decode\` frame by frame until every byte is consumed, over a connection's worth of identical two-way Hessian2 requests back to back (hessian.js, argument padded to the body size; ${MAX_PER_PASS} per pass, fewer when they would pass 8 MiB: ${r.rows.map((x) => `${x.perPass} at ${size(x.bodyBytes)}`).join(", ")}), ${options.iterations.toLocaleString("en-US")} requests per round (full: fewer for large bodies), ${options.rounds} rounds, median round, ns per request. Route and the C floor run back to back in every round (alternating which goes first); **route × C** is the median of those rounds' ratios, which a loaded machine disturbs far less than either time; the fastest rounds' ratio (each side's least disturbed round) is shown beside it. ` +
      "Header only skips the body by length; route reads the header and dubbo version, service, version and method as offsets (what routing on interface, method and version needs: no attachments); full also counts the parameters, skips every argument and reads the attachments. " +
      "The C floor (`bench/dubbo-c/dubbo.c`, Debian clang wasm32 -O3) does the route work in plain C over the same bytes in the same rounds, and keeps every field it reads where the caller can read it, as the decoder does.",
    "",
  );
  if (r.skipped) out.push(`- note: ${r.skipped}`, "");
  out.push(
    table(
      ["body", "header only ns/req", "route ns/req", "C route floor ns/req", "route × C (median of rounds)", "fastest route / fastest C (info)", `goal ≤ ${DUBBO_GOAL}×`, "full ns/req (info)"],
      r.rows.map((x) => {
        const k = x.ratio ? x.ratio.median : Number.NaN;
        return [
          size(x.bodyBytes),
          ns(x.header.median),
          ns(x.route.median),
          x.c ? ns(x.c.median) : "skipped",
          ratio(k),
          x.c ? ratio(x.route.min / x.c.min) : "—",
          x.ratio ? (k <= DUBBO_GOAL ? "PASS" : "MISS") : "—",
          ns(x.full.median),
        ];
      }),
      ["l", "r", "r", "r", "r", "r", "l", "r"],
    ),
    "",
  );
  for (const [what, samples] of [["Header only", r.rows.map((x) => x.header.median)], ["Route", r.rows.map((x) => x.route.median)]] as const) {
    out.push(`- ${what} is flat in the body size when ${ns(Math.max(...samples))} ≤ 2 × ${ns(Math.min(...samples))} ns: ${Math.max(...samples) <= 2 * Math.min(...samples) ? "yes" : "no"}.`);
  }
  out.push("");
  return out;
}

async function main(): Promise<void> {
  const options = { rounds: 9, iterations: 200_000 };
  const report = await measureDubbo(options);
  console.log(renderDubbo(report, options).join("\n"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  });
}
