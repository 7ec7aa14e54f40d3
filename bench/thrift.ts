/**
 * `npm run bench:thrift`: ns per request for the Thrift decoder's message-begin path
 * (assembly/codecs/thrift/decoder.ts, DecodeMode.MessageBegin, through test/fixtures/thrift-decoder)
 * at payload sizes 100 B / 10 KiB / 1 MiB, for framed binary, framed compact and THeader, against
 * a C floor doing the same checks (bench/thrift-c/thrift_begin.c, Debian clang → wasm32) in the
 * same run; unframed binary (no length: the whole payload is walked) and the full walk of a
 * framed payload are shown for contrast. Writes BENCHMARKS.md's "## Thrift decoder" section.
 * The C floor is skipped with one line when clang is absent.
 *
 *   npm run bench:thrift -- --rounds 9 --no-write
 */
import { execFile } from "node:child_process";
import os from "node:os";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import { Command, InvalidArgumentError } from "commander";
import { BUILD, REPO } from "../tools/harness/drive.js";
import { ns, ratio, replaceSection, table } from "../tools/harness/markdown.js";
import { measureInterleaved, type Sample } from "./lib/stats.js";
import { loadThriftDecoder } from "../fuzz/thrift.js";

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const thrift: any = require("thrift");

export const THRIFT_HEADING = "## Thrift decoder";
const C_SOURCE = path.join(REPO, "bench", "thrift-c", "thrift_begin.c");
const C_WASM = path.join(BUILD, "fixtures", "thrift-begin-c.wasm");
export const SIZES: ReadonlyArray<readonly [string, number]> = [["100 B", 100], ["10 KiB", 10 * 1024], ["1 MiB", 1024 * 1024]];

export type Stack = "framed-binary" | "framed-compact" | "header-binary" | "header-compact" | "unframed-binary";

/**
 * One call whose argument struct carries `size` payload bytes as a list of small structs
 * ({1: i32, 2: string}): many fields, so walking it costs what a real payload costs.
 */
export function request(stack: Stack, size: number): Buffer {
  return message(stack, size, thrift.Thrift.MessageType.CALL);
}

/** The reply to `request(stack, …)`: same name and seq id, a `put_result` with no fields (void). */
export function reply(stack: Stack): Buffer {
  return message(stack, -1, thrift.Thrift.MessageType.REPLY);
}

/** `size` < 0: an empty result struct instead of the item list. */
function message(stack: Stack, size: number, type: number): Buffer {
  const out: Buffer[] = [];
  const flush = (b: Buffer): void => void out.push(Buffer.from(b));
  const T = thrift.Thrift.Type;
  let o;
  if (stack.startsWith("header")) {
    const t = new thrift.TBufferedTransport(undefined, flush);
    t.setProtocolId(stack === "header-compact" ? 2 : 0);
    t.setWriteHeader("x-route", "canary");
    t.setWriteHeader("trace-id", "0af7651916cd43dd8448eb211c80319c");
    o = new thrift.THeaderProtocol(t);
  } else {
    const t = stack.startsWith("framed") ? new thrift.TFramedTransport(undefined, flush) : new thrift.TBufferedTransport(undefined, flush);
    o = stack.endsWith("compact") ? new thrift.TCompactProtocol(t) : new thrift.TBinaryProtocol(t);
  }
  o.writeMessageBegin("Catalog:put", type, 7);
  if (size < 0) {
    o.writeStructBegin("put_result");
  } else {
    const items = Math.max(1, Math.round(size / 20));
    o.writeStructBegin("put_args");
    o.writeFieldBegin("items", T.LIST, 1);
    o.writeListBegin(T.STRUCT, items);
    for (let i = 0; i < items; i++) {
      o.writeStructBegin("Item");
      o.writeFieldBegin("id", T.I32, 1); o.writeI32(i); o.writeFieldEnd();
      o.writeFieldBegin("name", T.STRING, 2); o.writeString("item-name"); o.writeFieldEnd();
      o.writeFieldStop(); o.writeStructEnd();
    }
    o.writeListEnd(); o.writeFieldEnd();
  }
  o.writeFieldStop(); o.writeStructEnd();
  o.writeMessageEnd();
  o.flush();
  return out[0]!;
}

interface CFloor {
  memory: WebAssembly.Memory;
  input_buffer(len: number): number;
  begin_loop(ptr: number, len: number, n: number, transport: number): number;
}

async function buildCFloor(): Promise<CFloor | string> {
  try {
    await promisify(execFile)("clang", ["--target=wasm32", "-nostdlib", "-O3", "-Wl,--no-entry", "-Wl,--export-dynamic", "-o", C_WASM, C_SOURCE]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === "ENOENT" ? "clang not on PATH" : `clang failed: ${e.message.split("\n")[0]}`;
  }
  const { instance } = await WebAssembly.instantiate(await readFile(C_WASM), {});
  return instance.exports as unknown as CFloor;
}

export interface ThriftBenchRow {
  readonly stack: Stack;
  readonly mode: "message begin" | "full walk";
  readonly size: string;
  readonly bytes: number;
  readonly as: Sample;
  readonly c?: Sample;
}

/** Iterations so that one round takes about `targetMs`. */
export function calibrate(body: (n: number) => void, targetMs: number): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    body(n);
    const dt = performance.now() - t0;
    if (dt >= targetMs / 4 || n >= 1 << 22) return Math.max(1, Math.round((n * targetMs) / Math.max(dt, 0.001)));
    n *= 4;
  }
}

/** `targetMs`: the length of one timed round (iterations are calibrated to it). */
export async function runThriftBench(rounds: number, targetMs = 20): Promise<{ rows: ThriftBenchRow[]; note: string; machine: string }> {
  const machine = `${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the start, node ${process.version}`;
  const x = await loadThriftDecoder();
  const c = await buildCFloor();
  const note = typeof c === "string" ? `C floor skipped: ${c}.` : "";
  if (note) console.log(`bench:thrift: ${note}`);
  const TRANSPORT = { framed: 1, unframed: 2, header: 3 } as const;
  const PROTOCOL = { binary: 1, compact: 2 } as const;
  const rows: ThriftBenchRow[] = [];
  const cases: Array<[Stack, "message begin" | "full walk"]> = [
    ["framed-binary", "message begin"],
    ["framed-compact", "message begin"],
    ["header-binary", "message begin"],
    ["header-compact", "message begin"],
    ["unframed-binary", "message begin"],
    ["framed-binary", "full walk"],
  ];
  for (const [stack, mode] of cases) {
    const [t, p] = stack.split("-") as [keyof typeof TRANSPORT, keyof typeof PROTOCOL];
    const id = x.configure(TRANSPORT[t], stack.startsWith("header") ? 0 : PROTOCOL[p], mode === "message begin" ? 1 : 0, 64, 0);
    for (const [label, size] of SIZES) {
      const msg = request(stack, size);
      const ptr = x.input_buffer(msg.length);
      new Uint8Array(x.memory.buffer, ptr, msg.length).set(msg);
      x.use(id);
      const check = x.decode_loop(ptr, msg.length, 1);
      if ((check & 3) !== 1) throw new Error(`${stack} ${label}: decoder did not finish the message (status ${check & 3})`);
      const bodies = new Map<string, (n: number) => void>([["as", (n) => void x.decode_loop(ptr, msg.length, n)]]);
      const cTransport = t === "framed" ? 1 : t === "header" ? 3 : 0;
      if (typeof c !== "string" && p === "binary" && cTransport !== 0 && mode === "message begin") {
        const cp = c.input_buffer(msg.length);
        new Uint8Array(c.memory.buffer, cp, msg.length).set(msg);
        if (c.begin_loop(cp, msg.length, 1, cTransport) < 0) throw new Error(`${stack} ${label}: C floor rejected the message`);
        bodies.set("c", (n) => void c.begin_loop(cp, msg.length, n, cTransport));
      }
      const iterations = calibrate(bodies.get("as")!, targetMs);
      const s = measureInterleaved(bodies, { rounds, iterations });
      rows.push({ stack, mode, size: label, bytes: msg.length, as: s.get("as")!, c: s.get("c") });
    }
  }
  return { rows, note, machine };
}

export function renderThriftBench(rows: readonly ThriftBenchRow[], note: string, rounds: number, machine = ""): string {
  const out = [
    THRIFT_HEADING,
    "",
    `ns per request inside wasm (test/fixtures/thrift-decoder: one JS → wasm call per round of N requests, reset + decode of one whole request per iteration), median of ${rounds} interleaved rounds. ` +
      "**message begin**: `DecodeMode.MessageBegin` — transport frame start (THeader: all info headers), message begin, multiplexed name split, then the rest of a framed/THeader frame skipped by its length; unframed messages have no length and are walked. " +
      "**full walk**: every field of the payload validated (`DecodeMode.Full`). " +
      "C floor: `bench/thrift-c/thrift_begin.c` (plain C, Debian clang -O3 → wasm32, the same checks for strict binary over framed/THeader), measured in the same rounds. " +
      "Requests: `Catalog:put` with a list of `{1: i32, 2: string}` structs sized to the payload, encoded by the Apache thrift npm package.",
    "",
  ];
  if (machine) out.push(`Machine: ${machine}. On a loaded machine the medians spread widely; the AS / C ratio of the same round is the steadier number.`, "");
  if (note) out.push(note, "");
  out.push(
    table(
      ["stack", "mode", "payload", "bytes", "AS ns/req", "AS min–max", "C floor ns/req", "AS / C"],
      rows.map((r) => [
        r.stack,
        r.mode,
        r.size,
        r.bytes.toLocaleString("en-US"),
        ns(r.as.median),
        `${ns(r.as.min)}–${ns(r.as.max)}`,
        r.c ? ns(r.c.median) : "—",
        r.c ? ratio(r.as.median / r.c.median) : "—",
      ]),
      ["l", "l", "l", "r", "r", "r", "r", "r"],
    ),
    "",
  );
  return out.join("\n");
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const o = new Command()
    .name("bench:thrift")
    .option("--rounds <n>", "timed rounds", positiveInt, 9)
    .option("--no-write", "do not update BENCHMARKS.md")
    .parse()
    .opts<{ rounds: number; write: boolean }>();
  if (!existsSync(path.join(BUILD, "fixtures", "thrift-decoder.wasm"))) throw new Error("build/fixtures/thrift-decoder.wasm missing: run npm run build");
  const { rows, note, machine } = await runThriftBench(o.rounds);
  const md = renderThriftBench(rows, note, o.rounds, machine);
  console.log(md);
  if (o.write) {
    const file = path.join(REPO, "BENCHMARKS.md");
    const doc = existsSync(file) ? await readFile(file, "utf8") : "# Benchmarks\n";
    await writeFile(file, replaceSection(doc, THRIFT_HEADING, md));
    console.log(`bench:thrift: wrote the "${THRIFT_HEADING.slice(3)}" section of BENCHMARKS.md`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`bench:thrift: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
