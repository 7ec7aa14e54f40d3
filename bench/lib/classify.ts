/**
 * The pure-detector number: `assembly/codecs/detect` classify run N times inside wasm by the
 * `classify-bench` fixture (test/fixtures/classify-bench), one JS → wasm call per round, so the
 * host's per-call cost is spread over N classifications and what remains is the detectors'.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { BUILD } from "../../tools/harness/drive.js";
import type { Capture } from "../../tools/harness/captures.js";
import { measureInterleaved, type Sample } from "./stats.js";

interface ClassifyExports {
  memory: WebAssembly.Memory;
  input_buffer(len: number): number;
  classify_loop(ptr: number, len: number, n: number, cap: number, flags: number): number;
  last_complete(): number;
}

/** Names of assembly/codecs/detect/result.ts `Protocol` values (protocolName there). */
export const PROTOCOL_NAMES = [
  "tcp", "http/1.1", "h2c", "tls", "dubbo", "thrift", "redis", "postgres", "mysql", "kafka", "mqtt", "amqp",
] as const;

/** ClassifyFlags.AfterServerGreeting (assembly/codecs/detect/index.ts). */
export const AFTER_SERVER_GREETING = 1;
/** The sniffer's default `max_detect_bytes` (sniffer contract) = codecs DEFAULT_CAP. */
export const DEFAULT_CAP = 64;

export interface DetectorRow {
  readonly capture: string;
  readonly bytes: number;
  readonly protocol: string;
  /** False when the answer was forced by finish (cap / end of bytes) rather than full evidence. */
  readonly complete: boolean;
  readonly sample: Sample;
}

export class ClassifyBench {
  private constructor(private readonly x: ClassifyExports) {}

  static async load(wasm = path.join(BUILD, "fixtures", "classify-bench.wasm")): Promise<ClassifyBench> {
    const module = await WebAssembly.compile(await readFile(wasm));
    // Only the abort handler imports anything; an abort must surface, never pass silently.
    const imports: Record<string, Record<string, (...args: number[]) => number>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      (imports[imp.module] ??= {})[imp.name] = imp.name === "proxy_log"
        ? () => 0
        : () => {
            throw new Error(`classify-bench called ${imp.module}.${imp.name} (abort?)`);
          };
    }
    const instance = await WebAssembly.instantiate(module, imports);
    return new ClassifyBench(instance.exports as unknown as ClassifyExports);
  }

  /** Copies `bytes` into wasm memory; returns a loop body for measureInterleaved. */
  prepare(bytes: Uint8Array, cap: number, flags: number): { body: (n: number) => void; protocol: string; complete: boolean } {
    const ptr = this.x.input_buffer(bytes.length);
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    const p = this.x.classify_loop(ptr, bytes.length, 1, cap, flags);
    const protocol = PROTOCOL_NAMES[p] ?? `protocol#${p}`;
    const complete = this.x.last_complete() === 1;
    const x = this.x;
    return { body: (n: number) => void x.classify_loop(ptr, bytes.length, n, cap, flags), protocol, complete };
  }
}

/**
 * ns per classification for every capture (reset + classify over the whole first flight, +
 * finish when undecided), cap 64; MySQL captures with AfterServerGreeting, as the sniffer
 * classifies them after a server greeting.
 */
export async function measureDetector(
  captures: readonly Capture[],
  options: { rounds: number; iterations: number },
  wasm?: string,
): Promise<DetectorRow[]> {
  const bench = await ClassifyBench.load(wasm);
  const rows: DetectorRow[] = [];
  for (const c of captures) {
    const prepared = bench.prepare(c.bytes, DEFAULT_CAP, c.serverFirst ? AFTER_SERVER_GREETING : 0);
    // Input buffers are replaced per capture, so captures are timed one after another.
    const sample = measureInterleaved(new Map([[c.name, prepared.body]]), options).get(c.name)!;
    rows.push({ capture: c.name, bytes: c.bytes.length, protocol: prepared.protocol, complete: prepared.complete, sample });
  }
  return rows;
}
