/**
 * The pure-detector number: `assembly/codecs/detect` classify run N times inside wasm by the
 * `classify-bench` fixture (test/fixtures/classify-bench), one JS → wasm call per round, so the
 * host's per-call cost is spread over N classifications and what remains is the detectors'.
 * A baseline (the same fixture built from another commit) can be timed in the same rounds, which
 * turns a before/after comparison on a noisy machine into a ratio measured in one process.
 */
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import path from "node:path";
import { instantiateBare } from "../../tools/harness/bare-module.js";
import { BUILD } from "../../tools/harness/drive.js";
import type { Capture } from "../../tools/harness/captures.js";
import { measureInterleaved, measurePaired, type Sample } from "./stats.js";

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
  /** The baseline module in the same rounds, when one was given. */
  readonly baseline?: BaselineSample;
}

export interface BaselineSample {
  /** What the baseline wasm was given as (a file or a git revision and its commit). */
  readonly label: string;
  readonly protocol: string;
  readonly complete: boolean;
  readonly sample: Sample;
  /** This build / the baseline, per round (paired rounds, alternating which runs first). */
  readonly ratio: Sample;
}

export class ClassifyBench {
  private constructor(private readonly x: ClassifyExports) {}

  static async load(wasm = path.join(BUILD, "fixtures", "classify-bench.wasm")): Promise<ClassifyBench> {
    return new ClassifyBench((await instantiateBare(wasm, "classify-bench")) as unknown as ClassifyExports);
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
 * classifies them after a server greeting. With `baseline` (a classify-bench wasm, or a git
 * revision to build one from, see classifyBenchAt), each capture is timed on both modules in
 * interleaved rounds.
 */
export async function measureDetector(
  captures: readonly Capture[],
  options: { rounds: number; iterations: number },
  wasm?: string,
  baseline?: string,
): Promise<DetectorRow[]> {
  const bench = await ClassifyBench.load(wasm);
  const base = baseline === undefined ? undefined : await classifyBenchAt(baseline);
  const other = base === undefined ? undefined : await ClassifyBench.load(base.wasm);
  const rows: DetectorRow[] = [];
  for (const c of captures) {
    const flags = c.serverFirst ? AFTER_SERVER_GREETING : 0;
    const prepared = bench.prepare(c.bytes, DEFAULT_CAP, flags);
    const theirs = other?.prepare(c.bytes, DEFAULT_CAP, flags);
    // Input buffers are replaced per capture, so captures are timed one after another.
    if (theirs && base) {
      const s = measurePaired(prepared.body, theirs.body, options);
      rows.push({
        capture: c.name,
        bytes: c.bytes.length,
        protocol: prepared.protocol,
        complete: prepared.complete,
        sample: s.a,
        baseline: { label: base.label, protocol: theirs.protocol, complete: theirs.complete, sample: s.b, ratio: s.ratio },
      });
    } else {
      const sample = measureInterleaved(new Map([[c.name, prepared.body]]), options).get(c.name)!;
      rows.push({ capture: c.name, bytes: c.bytes.length, protocol: prepared.protocol, complete: prepared.complete, sample });
    }
  }
  return rows;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

/**
 * A classify-bench module to compare with: `spec` is a .wasm file, or a git revision whose
 * `assembly/`, `test/fixtures/classify-bench/` and `asconfig.json` are exported to a temporary
 * directory and compiled (release target) with this checkout's asc. Built modules are cached
 * per commit in the OS temp directory, so repeated runs against the same revision start at once.
 */
export async function classifyBenchAt(spec: string): Promise<{ wasm: string; label: string }> {
  if (spec.endsWith(".wasm")) {
    await access(spec);
    return { wasm: path.resolve(spec), label: spec };
  }
  const commit = (await run("git", ["rev-parse", "--verify", `${spec}^{commit}`], { cwd: REPO_ROOT })).stdout.trim();
  const label = `${spec} (${commit.slice(0, 7)})`;
  const cache = path.join(os.tmpdir(), "protomesh-bench");
  const wasm = path.join(cache, `classify-bench-${commit}.wasm`);
  if (await access(wasm).then(() => true, () => false)) return { wasm, label };
  await mkdir(cache, { recursive: true });
  const src = await mkdtemp(path.join(cache, "src-"));
  try {
    const tar = path.join(src, "src.tar");
    await run("git", ["archive", "--output", tar, commit, "assembly", "test/fixtures/classify-bench", "asconfig.json"], { cwd: REPO_ROOT });
    await run("tar", ["-xf", tar, "-C", src]);
    const asc = path.join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
    const out = path.join(src, "classify-bench.wasm");
    // asc resolves the config's `use abort=assembly/...` against its working directory.
    await run(process.execPath, [asc, "test/fixtures/classify-bench/index.ts", "--config", "asconfig.json", "--target", "release", "--outFile", out], { cwd: src });
    await rename(out, wasm);
  } finally {
    await rm(src, { recursive: true, force: true });
  }
  return { wasm, label };
}
