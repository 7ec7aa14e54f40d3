/**
 * `npm run fuzz`: real first flights (mutated) and noise through a filter via the host
 * emulator, with random chunking, random upstream data and a random close order. Fails (exit 1)
 * when the VM traps (fails) or its memory keeps growing (memoryVerdict), printing the seed and
 * the input.
 *
 *   npm run fuzz -- --seed 1234 --iterations 100000 --filter tcp-stats
 *   npm run fuzz -- --seed 1234 --filter tcp-stats --trace-pages   (pages and heap at every growth and every 5 %)
 *   npm run fuzz -- --target config     (plugin configurations: fuzz/config.ts, also npm run fuzz:config)
 *   npm run fuzz -- --target dubbo-decoder [--seed N] [--iterations N]   (the Dubbo decoder alone: fuzz/dubbo.ts)
 *   npm run fuzz -- --target tls --seed 7   (ClientHellos vs a reference parser: fuzz/tls.ts)
 *   npm run fuzz -- --target thrift-filter [--seed N] [--iterations N]   (Thrift streams through build/thrift.wasm: fuzz/thrift-filter.ts, 10^6 by default)
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { Host, type StatSnapshot } from "../test/host/index.js";
import { loadPlugin, pluginFailed, pluginPages, resolveFilter, type FilterSpec } from "../tools/harness/drive.js";
import { SERVER_GREETING } from "../tools/harness/captures.js";
import { report, runIfMain } from "../tools/harness/cli.js";
import { loadCorpus, type Seed } from "./corpus.js";
import { MAX_INPUT, Mutator } from "./mutate.js";
import { Rng } from "./rng.js";
import { findRoot, heapBase, heapStats, type HeapStats } from "./heap.js";
import { configFuzzMain } from "./config.js";
import { dubboFuzzMain } from "./dubbo.js";
import { describeTls, runTlsFuzz } from "./tls.js";
import { describeThriftFuzz, runThriftFuzz, THRIFT_DECODER_TARGET } from "./thrift.js";
import { describeThriftFilterFuzz, runThriftFilterFuzz, THRIFT_FILTER_ITERATIONS, THRIFT_FILTER_TARGET } from "./thrift-filter.js";

export interface FuzzOptions {
  readonly seed: number;
  readonly iterations: number;
  /** A filter name (`build/<name>.wasm` or `build/fixtures/<name>.wasm`) or a `.wasm` path. */
  readonly filter: string;
  readonly configuration?: string;
  /** Iterations before the memory baseline is taken (the runtime's heap settles first). */
  readonly warmup?: number;
  /** Pages the VM may grow after warm-up before the run counts as leaking. */
  readonly slackPages?: number;
  /** Print progress and the summary. */
  readonly print?: boolean;
  /**
   * Per-iteration chance of a `plugin.tick()` when the filter set a tick period (default 0.02):
   * timeouts run on the root context's tick, interleaved with connections in every state.
   */
  readonly tickChance?: number;
  /**
   * Per-iteration chance that a connection is left open for later iterations instead of being
   * closed (default 0.03, at most MAX_LINGERING at once), so ticks find connections that have
   * been waiting (a sniffer's detect timeout) and closes reach them late. Every connection is
   * closed by the end of the run.
   */
  readonly lingerChance?: number;
  /**
   * Per-iteration chance that the server speaks first (default 0.1): upstream bytes, half the
   * time a MySQL greeting, before any client byte (a sniffer's server-first path).
   */
  readonly serverFirstChance?: number;
  /** Downstream seeds to mutate instead of the first-flight corpus (fuzz/corpus.ts). */
  readonly corpus?: readonly Seed[];
  /**
   * Upstream seeds: when given, every upstream write is a mutated entry of these (half the time
   * split into two writes) instead of random bytes, so a filter that decodes replies reaches
   * its reply path.
   */
  readonly upstreamCorpus?: readonly Seed[];
  /** The command that replays this run, printed on failure (default: the `--filter` form). */
  readonly replay?: string;
  /**
   * Record FuzzResult.pagesTrace: a sample at every change of the memory size and every
   * `iterations / 20` iterations, each with the allocator's heap walked (fuzz/heap.ts).
   */
  readonly tracePages?: boolean;
}

/** One point of FuzzResult.pagesTrace. */
export interface PageSample {
  /** Iterations done when the sample was taken. */
  readonly iteration: number;
  readonly pages: number;
  /** Connections open at that moment (the one just run included when it was left open). */
  readonly open: number;
  /** Why: the memory grew, or a periodic checkpoint. */
  readonly reason: "grew" | "checkpoint" | "end";
  /** The heap then; undefined when it could not be walked. */
  readonly heap?: HeapStats;
}

export const MAX_LINGERING = 8;
/**
 * Original destinations a connection reports (destination.address / destination.port): a few
 * ports and addresses so destination-based decisions (the sniffer's bypass allow-list) take
 * both branches.
 */
export const DESTINATIONS: ReadonlyArray<{ host: string; port: number }> = [
  { host: "10.0.0.2", port: 8080 },
  { host: "10.0.0.3", port: 6379 },
  { host: "10.1.2.3", port: 9092 },
  { host: "192.168.7.8", port: 3306 },
  { host: "172.16.0.9", port: 8050 },
  { host: "127.0.0.1", port: 20880 },
];

export const DEFAULT_ITERATIONS = 100_000;
export const DEFAULT_SLACK_PAGES = 2;
/** Iterations between two walks of the heap for its used-bytes floor (see memoryVerdict). */
export const FLOOR_EVERY = 64;
/** Bytes by which the second half's used-bytes floor may exceed the first half's. */
export const FLOOR_SLACK_BYTES = 16 * 1024;

/** What memoryVerdict judges: the memory over one run. */
export interface MemoryEvidence {
  readonly warmup: number;
  readonly iterations: number;
  readonly slackPages: number;
  readonly pagesWarm: number;
  readonly pagesEnd: number;
  /** Iterations done when the memory last grew after warm-up. */
  readonly lastGrowth?: number;
  /**
   * Lowest bytes in used blocks of the allocator's heap (fuzz/heap.ts) seen over the first and
   * the second half of the iterations after warm-up, read every FLOOR_EVERY iterations, among
   * the readings taken with `floorOpen` connections open (floors: the open count whose floor
   * rose least); undefined when the heap is not AssemblyScript's TLSF (a C fixture).
   */
  readonly floorFirst?: number;
  readonly floorSecond?: number;
  readonly floorOpen?: number;
}

/**
 * The used-bytes floors by connections open: a filter's live set follows the connections it
 * holds, so halves are compared at the same number open. The pair whose floor rose least (a
 * leak raises every one): undefined when no open count was seen in both halves.
 */
export function floors(first: ReadonlyMap<number, number>, second: ReadonlyMap<number, number>): { open: number; first: number; second: number } | undefined {
  let best: { open: number; first: number; second: number } | undefined;
  for (const [open, a] of first) {
    const b = second.get(open);
    if (b !== undefined && (best === undefined || b - a < best.second - best.first)) best = { open, first: a, second: b };
  }
  return best;
}

/**
 * The "memory flat" check; a failure message, or undefined when flat. Growth within
 * `slackPages` passes. Beyond it the memory must have stopped growing: TLSF grows by doubling
 * (rt/tlsf.ts growMemory: max(pages before, pages needed)), so a live set that peaks once
 * (connections open at once, a pool filled, fragmentation) costs one doubling early and no more,
 * while a leak keeps growing. Two signs of a leak, either fails:
 * - the memory grew in the second half of the run after warm-up (growth did not stop);
 * - the heap's used-bytes floor (live objects when least garbage is pending), at the same number
 *   of connections open, rose by more than FLOOR_SLACK_BYTES from the first half to the second:
 *   a leak too slow to need another doubling before the run ends still raises the floor.
 */
export function memoryVerdict(e: MemoryEvidence): string | undefined {
  if (e.pagesEnd <= e.pagesWarm + e.slackPages) return undefined;
  const grew = `memory grew from ${e.pagesWarm} pages after warm-up to ${e.pagesEnd} (slack ${e.slackPages})`;
  const middle = e.warmup + Math.floor((e.iterations - e.warmup) / 2);
  if (e.lastGrowth === undefined || e.lastGrowth > middle) {
    return `${grew} and was still growing at iteration ${e.lastGrowth ?? e.iterations} of ${e.iterations} (growth must stop by iteration ${middle})`;
  }
  if (e.floorFirst !== undefined && e.floorSecond !== undefined && e.floorSecond > e.floorFirst + FLOOR_SLACK_BYTES) {
    return `${grew} and the heap's used-bytes floor with ${e.floorOpen ?? "?"} connections open rose from ${e.floorFirst} in the first half to ${e.floorSecond} in the second (more than ${FLOOR_SLACK_BYTES})`;
  }
  return undefined;
}

export interface FuzzFailure {
  readonly kind: "trap" | "exception" | "memory";
  readonly iteration: number;
  readonly message: string;
  /** The input of the failing iteration (for memory: the last one). */
  readonly input: Uint8Array;
  readonly origin: string;
  /** What the iteration did, e.g. `new, down 12, up 40, down 3 eos, close Remote`. */
  readonly steps: string;
}

export interface FuzzResult {
  readonly seed: number;
  readonly filter: string;
  /** `--filter` as given (name or path), for the replay line. */
  readonly filterArg: string;
  readonly configuration: string;
  readonly iterations: number;
  readonly corpusSize: number;
  readonly inputBytes: number;
  readonly downstreamCalls: number;
  readonly upstreamCalls: number;
  readonly upstreamBytes: number;
  /** Connections opened (each is closed exactly once by the end of the run). */
  readonly connections: number;
  /** `plugin.tick()` calls made (0 when the filter set no tick period). */
  readonly ticks: number;
  /** Connections that were left open for a while (see FuzzOptions.lingerChance). */
  readonly lingered: number;
  readonly pagesLoaded: number;
  readonly pagesWarm: number;
  readonly pagesEnd: number;
  /** Iterations done when the memory last grew after warm-up (undefined: it never did). */
  readonly lastGrowth?: number;
  /** Memory growths after warm-up. */
  readonly growths: number;
  /** Most connections open at once (the harness keeps at most MAX_LINGERING + 1). */
  readonly peakOpen: number;
  /** MemoryEvidence.floorFirst / floorSecond. */
  readonly floorFirst?: number;
  readonly floorSecond?: number;
  readonly floorOpen?: number;
  /** FuzzOptions.tracePages: memory over the run. */
  readonly pagesTrace?: PageSample[];
  /** Log lines at error or critical level the filter (or the host about it) wrote. */
  readonly errorLogs: number;
  /** The first few of them, for the report. */
  readonly errorSamples: string[];
  readonly elapsedMs: number;
  /** The host's wasm custom stats at the end (what the filter counted). */
  readonly stats: StatSnapshot[];
  readonly failure?: FuzzFailure;
  /** FuzzOptions.replay, when given. */
  readonly replay?: string;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const CLOSES = ["eos-then-remote", "upstream-eos-then-remote", "local", "remote", "eos-only-then-remote"] as const;

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const spec: FilterSpec = resolveFilter(options.filter, options.configuration);
  const rng = new Rng(options.seed);
  const corpus = options.corpus ?? (await loadCorpus());
  const mutator = new Mutator(rng, corpus);
  const upstreamMutator = options.upstreamCorpus ? new Mutator(rng, options.upstreamCorpus) : undefined;
  const upstream = new Uint8Array(512);
  const warmup = options.warmup ?? Math.min(500, Math.floor(options.iterations / 10));
  const slack = options.slackPages ?? DEFAULT_SLACK_PAGES;
  const started = performance.now();
  const host = new Host();
  let inputBytes = 0;
  let downstreamCalls = 0;
  let upstreamCalls = 0;
  let upstreamBytes = 0;
  let connections = 0;
  let ticks = 0;
  let lingered = 0;
  const tickChance = options.tickChance ?? 0.02;
  const lingerChance = options.lingerChance ?? 0.03;
  const serverFirstChance = options.serverFirstChance ?? 0.1;
  const steps: string[] = [];
  try {
    const plugin = await loadPlugin(host, spec).catch((err: unknown) => {
      // The filter's own error log says which configuration field it rejected.
      const why = host.logs.filter((e) => e.level === "error" || e.level === "critical").map((e) => e.message);
      throw new Error(`${err instanceof Error ? err.message : String(err)}${why.length > 0 ? `: ${why.join(" | ")}` : ""}`);
    });
    if (pluginFailed(plugin)) throw new Error(`${spec.name}: VM failed while loading ${spec.wasm}`);
    const pagesLoaded = pluginPages(plugin);
    // on_configure set (or not) the root context's tick period while loading.
    const hasTick = plugin.vms.some((vm) => [...vm.tickPeriods.values()].some((ms) => ms > 0));
    type Conn = ReturnType<Host["connection"]>;
    const lingering: Conn[] = [];
    const closeLingering = (k: number): void => {
      const c = lingering.splice(k, 1)[0]!;
      if (!c.closed) {
        const peer = rng.chance(0.5) ? "Remote" : "Local";
        c.close(peer);
        steps.push(`close lingering ${peer}`);
      }
    };
    let pagesWarm = pagesLoaded;
    let pagesNow = pagesLoaded;
    let growths = 0;
    let lastGrowth: number | undefined;
    let peakOpen = 0;
    const trace: PageSample[] | undefined = options.tracePages ? [] : undefined;
    const base = heapBase(readFileSync(spec.wasm));
    let root: number | undefined;
    const checkpoint = Math.max(1, Math.floor(options.iterations / 20));
    const middle = warmup + Math.floor((options.iterations - warmup) / 2);
    const floorsFirst = new Map<number, number>();
    const floorsSecond = new Map<number, number>();
    let walkable = true;
    const walk = (): HeapStats | undefined => {
      const vm = plugin.vms[0];
      if (!walkable || !vm) return undefined;
      root ??= findRoot(vm.exports.memory, base);
      const heap = root === undefined ? undefined : heapStats(vm.exports.memory, root);
      if (!heap) walkable = false;
      return heap;
    };
    const sample = (done: number, reason: PageSample["reason"]): void => {
      trace?.push({
        iteration: done,
        pages: pagesNow,
        open: lingering.length,
        reason,
        heap: walk(),
      });
    };
    let failure: FuzzFailure | undefined;
    let input: Uint8Array = EMPTY;
    let iteration = 0;

    let errorLogs = 0;
    const errorSamples: string[] = [];
    // The host keeps every log line; a long run must not keep them all.
    const drainLogs = (): void => {
      for (const entry of host.logs) {
        if (entry.level === "error" || entry.level === "critical") {
          errorLogs++;
          if (errorSamples.length < 5) errorSamples.push(`[${entry.level}] ${entry.message}`);
        }
      }
      host.logs.length = 0;
    };

    const fail = (kind: FuzzFailure["kind"], message: string): FuzzFailure => ({
      kind,
      iteration,
      message,
      input: input.slice(),
      origin: mutator.origin,
      steps: steps.join(", "),
    });
    const failMessage = (): string => {
      drainLogs();
      const vmFailure = errorSamples.find((m) => m.includes("Wasm VM failed"));
      return vmFailure ?? `${spec.name}: VM failed (trap or abort)`;
    };

    for (; iteration < options.iterations; iteration++) {
      if (iteration === warmup) pagesWarm = pluginPages(plugin);
      input = mutator.next();
      inputBytes += input.length;
      steps.length = 0;
      try {
        if (hasTick && rng.chance(tickChance)) {
          plugin.tick();
          ticks++;
          steps.push("tick");
        }
        if (lingering.length > 0 && rng.chance(0.05)) closeLingering(rng.int(lingering.length));
        const destination = rng.pick(DESTINATIONS);
        const c = host.connection({ filters: [plugin], destination, keepOutputs: false });
        c.newConnection();
        connections++;
        peakOpen = Math.max(peakOpen, lingering.length + 1);
        steps.push(`new ${destination.host}:${destination.port}`);
        if (rng.chance(serverFirstChance) && !c.closed) {
          let greeting: Uint8Array = SERVER_GREETING;
          if (rng.chance(0.5)) {
            const n = rng.range(1, upstream.length);
            rng.fill(upstream, 0, n);
            greeting = upstream.slice(0, n);
          }
          c.upstreamData(greeting, false);
          upstreamCalls++;
          upstreamBytes += greeting.length;
          steps.push(`up ${greeting.length} first`);
        }
        const close = CLOSES[rng.int(CLOSES.length)]!;
        const chunks = rng.range(1, 6);
        let at = 0;
        for (let k = 0; k < chunks && !c.closed; k++) {
          const last = k === chunks - 1;
          const end = last ? input.length : at + rng.int(input.length - at + 1);
          const eos = last && close === "eos-then-remote";
          // A copy: the host keeps a reference to what a filter holds, and the mutator reuses its buffer.
          c.downstreamData(input.slice(at, end), eos);
          downstreamCalls++;
          steps.push(`down ${end - at}${eos ? " eos" : ""}`);
          at = end;
          if (hasTick && rng.chance(tickChance)) {
            plugin.tick();
            ticks++;
            steps.push("tick");
          }
          if (rng.chance(0.3) && !c.closed) {
            if (upstreamMutator) {
              const reply = upstreamMutator.next();
              const cut = rng.chance(0.5) ? rng.int(reply.length + 1) : reply.length;
              for (const part of cut < reply.length ? [reply.subarray(0, cut), reply.subarray(cut)] : [reply]) {
                if (c.closed) break;
                c.upstreamData(part.slice(), false);
                upstreamCalls++;
                upstreamBytes += part.length;
                steps.push(`up ${part.length} (${upstreamMutator.origin})`);
              }
            } else {
              const n = rng.int(upstream.length + 1);
              rng.fill(upstream, 0, n);
              c.upstreamData(upstream.slice(0, n), false);
              upstreamCalls++;
              upstreamBytes += n;
              steps.push(`up ${n}`);
            }
          }
        }
        // Reads re-enabled by a filter are delivered on a later turn (connection.ts).
        await null;
        if (!c.closed) {
          if (close === "upstream-eos-then-remote") {
            c.upstreamData(EMPTY, true);
            upstreamCalls++;
            steps.push("up 0 eos");
          } else if (close === "eos-only-then-remote") {
            c.downstreamData(EMPTY, true);
            downstreamCalls++;
            steps.push("down 0 eos");
          }
        }
        if (!c.closed && lingering.length < MAX_LINGERING && rng.chance(lingerChance)) {
          lingering.push(c);
          lingered++;
          steps.push("linger");
        } else if (!c.closed) {
          const peer = close === "local" ? "Local" : "Remote";
          c.close(peer);
          steps.push(`close ${peer}`);
        }
      } catch (err) {
        failure = fail("exception", err instanceof Error ? err.message : String(err));
        break;
      }
      if (pluginFailed(plugin)) {
        failure = fail("trap", failMessage());
        break;
      }
      const pages = pluginPages(plugin);
      if (pages !== pagesNow) {
        if (iteration >= warmup) {
          growths++;
          lastGrowth = iteration + 1;
        }
        pagesNow = pages;
        sample(iteration + 1, "grew");
      } else if ((iteration + 1) % checkpoint === 0) {
        sample(iteration + 1, "checkpoint");
      }
      if (iteration >= warmup && (iteration + 1) % FLOOR_EVERY === 0) {
        const used = walk()?.used;
        if (used !== undefined) {
          const half = iteration < middle ? floorsFirst : floorsSecond;
          half.set(lingering.length, Math.min(half.get(lingering.length) ?? used, used));
        }
      }
      if (host.logs.length > 1000) drainLogs();
      if (options.print && iteration > 0 && iteration % 100_000 === 0) {
        console.log(`fuzz: ${iteration.toLocaleString("en-US")} iterations, pages=${pluginPages(plugin)}`);
      }
    }
    if (!failure) {
      try {
        if (hasTick) {
          plugin.tick();
          ticks++;
        }
        while (lingering.length > 0) closeLingering(lingering.length - 1);
      } catch (err) {
        failure = fail("exception", err instanceof Error ? err.message : String(err));
      }
      if (!failure && pluginFailed(plugin)) failure = fail("trap", failMessage());
    }
    drainLogs();
    if (options.iterations <= warmup) pagesWarm = pluginPages(plugin);
    const pagesEnd = pluginPages(plugin);
    if (pagesEnd !== pagesNow && options.iterations > warmup) {
      growths++;
      lastGrowth = options.iterations;
    }
    pagesNow = pagesEnd;
    sample(options.iterations, "end");
    const floor = floors(floorsFirst, floorsSecond);
    const floorFirst = floor?.first;
    const floorSecond = floor?.second;
    const floorOpen = floor?.open;
    const verdict = failure
      ? undefined
      : memoryVerdict({ warmup, iterations: options.iterations, slackPages: slack, pagesWarm, pagesEnd, lastGrowth, floorFirst, floorSecond, floorOpen });
    if (verdict) failure = fail("memory", verdict);
    // Stats after the VMs' on_done: a filter that batches its metric updates writes them then.
    await host.close();
    return {
      seed: options.seed,
      filter: spec.name,
      filterArg: options.filter,
      configuration: spec.configuration ?? "",
      iterations: failure && failure.kind !== "memory" ? failure.iteration + 1 : options.iterations,
      corpusSize: corpus.length,
      inputBytes,
      downstreamCalls,
      upstreamCalls,
      upstreamBytes,
      connections,
      ticks,
      lingered,
      pagesLoaded,
      pagesWarm,
      pagesEnd,
      lastGrowth,
      growths,
      peakOpen,
      floorFirst,
      floorSecond,
      floorOpen,
      pagesTrace: trace,
      errorLogs,
      errorSamples,
      elapsedMs: performance.now() - started,
      stats: host.stats(),
      failure,
      replay: options.replay,
    };
  } finally {
    await host.close();
  }
}

/** One PageSample as a line of the `--trace-pages` output. */
export function describeSample(s: PageSample): string {
  const heap = s.heap
    ? ` heap used=${s.heap.used} free=${s.heap.free} largest-free=${s.heap.largestFree} blocks used=${s.heap.usedBlocks} free=${s.heap.freeBlocks}`
    : "";
  return `iteration=${s.iteration} pages=${s.pages} open=${s.open} (${s.reason})${heap}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function describe(result: FuzzResult): string {
  const lines = [
    `fuzz: filter=${result.filter} seed=${result.seed} iterations=${result.iterations.toLocaleString("en-US")} ` +
      `(${(result.elapsedMs / 1000).toFixed(1)} s, ${Math.round((result.iterations / result.elapsedMs) * 1000).toLocaleString("en-US")}/s)`,
    `fuzz: corpus of ${result.corpusSize} first flights; ${result.inputBytes.toLocaleString("en-US")} input bytes, ${result.downstreamCalls.toLocaleString("en-US")} downstream reads, ${result.upstreamCalls.toLocaleString("en-US")} upstream writes (${result.upstreamBytes.toLocaleString("en-US")} bytes)`,
    `fuzz: ${result.connections.toLocaleString("en-US")} connections (${result.lingered.toLocaleString("en-US")} left open for a while), ${result.ticks.toLocaleString("en-US")} ticks`,
    `fuzz: memory pages loaded=${result.pagesLoaded} after-warm-up=${result.pagesWarm} end=${result.pagesEnd}; ` +
      `${result.growths} growth${result.growths === 1 ? "" : "s"} after warm-up${result.lastGrowth !== undefined ? `, the last at iteration ${result.lastGrowth.toLocaleString("en-US")}` : ""}; ` +
      `at most ${result.peakOpen} connections open at once` +
      (result.floorFirst !== undefined && result.floorSecond !== undefined
        ? `; heap used-bytes floor with ${result.floorOpen} open ${result.floorFirst} (first half) / ${result.floorSecond} (second half)`
        : ""),
    ...(result.pagesTrace ?? []).map((s) => `fuzz: pages ${describeSample(s)}`),
    `fuzz: ${result.errorLogs} error/critical log lines${result.errorSamples.length > 0 ? `, first: ${result.errorSamples.join(" | ")}` : ""}`,
  ];
  const f = result.failure;
  if (f) {
    lines.push(
      f.kind === "memory"
        ? `fuzz: FAILED (memory) after ${f.iteration} iterations: ${f.message}`
        : `fuzz: FAILED (${f.kind}) at iteration ${f.iteration}: ${f.message}`,
      `fuzz: replay with: ${
        result.replay ??
        `npm run fuzz -- --seed ${result.seed} --iterations ${result.iterations} --filter ${result.filterArg}` +
          (result.configuration ? ` --config ${JSON.stringify(result.configuration)}` : "")
      }`,
      `fuzz: input origin${f.kind === "memory" ? " (last input)" : ""}: ${f.origin}`,
      `fuzz: steps: ${f.steps}`,
      `fuzz: input (${f.input.length} bytes, hex): ${hex(f.input)}`,
    );
  } else {
    lines.push("fuzz: OK (no trap, memory flat)");
  }
  return lines.join("\n");
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

function seed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`expected a seed in 0..4294967295, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  // `--target config`: plugin configurations through on_configure (fuzz/config.ts).
  const target = process.argv.indexOf("--target");
  if (target >= 0 && process.argv[target + 1] === "config") {
    process.exitCode = await configFuzzMain();
    return;
  }
  // `--target dubbo-decoder`: the Dubbo decoder compiled alone to wasm (fuzz/dubbo.ts), 10^6 inputs by default.
  if (target >= 0 && process.argv[target + 1] === "dubbo-decoder") {
    const value = (name: string): number | undefined => {
      const k = process.argv.indexOf(name);
      return k >= 0 ? seed(process.argv[k + 1] ?? "") : undefined;
    };
    process.exitCode = (await dubboFuzzMain(value("--seed"), value("--iterations"))) ? 0 : 1;
    return;
  }
  const program = new Command()
    .name("fuzz")
    .description("Feed mutated first flights and noise through a filter via the host emulator")
    .option("--seed <n>", "PRNG seed (printed; default random)", seed)
    .option("--iterations <n>", "connections to run", nonNegativeInt, DEFAULT_ITERATIONS)
    .option("--filter <name>", "filter: build/<name>.wasm, build/fixtures/<name>.wasm, or a .wasm path", "tcp-stats")
    .option("--config <text>", "plugin configuration", "")
    .option("--slack-pages <n>", "memory pages allowed to grow after warm-up", nonNegativeInt, DEFAULT_SLACK_PAGES)
    .option("--warmup <n>", "iterations before the memory baseline", nonNegativeInt)
    .option("--trace-pages", "print the memory size and the heap at every growth and every 5 % of the run")
    .option("--target <name>", "filters (mutated first flights through --filter), tls (ClientHellos through the sniffer vs fuzz/tls-reference.ts) thrift (the Thrift decoder: fuzz/thrift.ts), thrift-filter (Thrift streams through build/thrift.wasm: fuzz/thrift-filter.ts), config (plugin configurations: fuzz/config.ts) or dubbo-decoder (the Dubbo decoder: fuzz/dubbo.ts)", "filters");
  program.parse();
  const o = program.opts<{ seed?: number; iterations: number; filter: string; config: string; slackPages: number; warmup?: number; target: string; tracePages?: boolean }>();
  const chosen = o.seed ?? randomInt(0, 0xffffffff);
  if (o.target === "thrift" || o.filter === THRIFT_DECODER_TARGET) {
    // Not a proxy-wasm filter: the Thrift decoder in its test module (fuzz/thrift.ts).
    const r = await runThriftFuzz(chosen, o.iterations, true);
    const text = describeThriftFuzz(r);
    if (r.failure) {
      console.error(text);
      process.exitCode = 1;
    } else {
      console.log(text);
    }
    return;
  }
  if (o.target === THRIFT_FILTER_TARGET) {
    const iterations = program.getOptionValueSource("iterations") === "default" ? THRIFT_FILTER_ITERATIONS : o.iterations;
    const filter = program.getOptionValueSource("filter") === "default" ? undefined : o.filter;
    const runs = await runThriftFilterFuzz({ seed: chosen, iterations, filter, print: true });
    report(describeThriftFilterFuzz(runs, chosen), runs.some((r) => r.result.failure !== undefined));
    return;
  }
  if (o.target === "tls") {
    const filter = o.filter === "tcp-stats" ? "sniffer" : o.filter; // --filter: another sniffer build
    const r = await runTlsFuzz({ seed: chosen, iterations: o.iterations, filter, print: true });
    const report = describeTls(r);
    if (r.trapped || r.disagreementCount > 0) {
      console.error(report);
      process.exitCode = 1;
    } else {
      console.log(report);
    }
    return;
  }
  if (o.target !== "filters") throw new InvalidArgumentError(`--target must be filters, tls, thrift, thrift-filter, config or dubbo-decoder, found "${o.target}"`);
  console.log(`fuzz: seed=${chosen} filter=${o.filter} iterations=${o.iterations} max-input=${MAX_INPUT}`);
  const result = await runFuzz({
    seed: chosen,
    iterations: o.iterations,
    filter: o.filter,
    configuration: o.config,
    slackPages: o.slackPages,
    warmup: o.warmup,
    tracePages: o.tracePages,
    print: true,
  });
  report(describe(result), result.failure !== undefined);
}

runIfMain(import.meta.url, "fuzz", main);
