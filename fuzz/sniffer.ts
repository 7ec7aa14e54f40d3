/**
 * `npm run fuzz:sniffer`: the issue-3 fuzz gate. 1,000,000 random and mutated first flights
 * (corpus: the built-in seeds + every capture) through build/sniffer.wasm, split over its three
 * modes, with random chunking, upstream bytes, closes and ticks (the detect timeout). Fails
 * (exit 1) on a trap or growing memory; writes the result into BENCHMARKS.md's fuzz section.
 *
 *   npm run fuzz:sniffer -- --seed 42 --iterations 30000 --no-write
 *   npm run fuzz:sniffer -- --seed 42 --iterations 3000000 --mode route --trace-pages --no-write
 */
import { randomInt } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { REPO } from "../tools/harness/drive.js";
import { FUZZ_HEADING, replaceSection, table } from "../tools/harness/markdown.js";
import { snifferConfig, SNIFFER_WASM } from "../tools/harness/sniffer.js";
import { MAX_INPUT } from "./mutate.js";
import { DEFAULT_SLACK_PAGES, describe, FLOOR_SLACK_BYTES, runFuzz, type FuzzResult } from "./run.js";

export type FuzzMode = "route" | "bypass" | "observe";
export const FUZZ_MODES: readonly FuzzMode[] = ["route", "bypass", "observe"];

/**
 * Configurations that reach every branch the contract names: route with a `deny` target and
 * clusters, bypass with an allow-list that some fuzz destinations (fuzz/run.ts DESTINATIONS)
 * miss, and a 1 ms detect timeout so ticks time out connections left waiting.
 */
export function fuzzConfig(mode: FuzzMode): string {
  const base = JSON.parse(snifferConfig(mode)) as Record<string, unknown>;
  base.detect_timeout_ms = 1;
  if (mode === "route") {
    const routes = base.routes as Record<string, string>;
    routes.redis = "deny";
    delete routes.kafka; // → default_route
  }
  if (mode === "observe") {
    // A small cap so forced decisions (cap_reached) happen on ordinary inputs too.
    base.max_detect_bytes = 16;
  }
  if (mode === "bypass") {
    base.allowed_destinations = [
      { cidr: "10.0.0.0/8", ports: [6379, "8000-8100", 9092] },
      { cidr: "127.0.0.1/32", ports: [20880] },
    ];
  }
  return JSON.stringify(base);
}

/** `total` split over the modes as evenly as possible (the first modes take the remainder). */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export interface SnifferFuzzRun {
  readonly mode: FuzzMode;
  readonly result: FuzzResult;
  readonly books: SnifferBooks;
}

/**
 * What the sniffer counted (metric names: assembly/filters/sniffer/index.ts defineMetrics,
 * Istio-style tags in the name): every connection ends in exactly one
 * `protomesh_<prefix>_connections_total{protocol,mode,action}`, except bypass connections
 * closed for their destination, which end in `denied_total{reason="destination"}` instead.
 */
export interface SnifferBooks {
  /** connections_total per protocol tag. */
  readonly byProtocol: Record<string, bigint>;
  readonly deniedDestination: bigint;
  readonly deniedRoute: bigint;
  readonly timeouts: bigint;
  readonly capReached: bigint;
  /** Sum of connections_total + denied destination: must equal the connections opened. */
  readonly counted: bigint;
}

export function snifferBooks(stats: FuzzResult["stats"], prefix = "sniffer"): SnifferBooks {
  const byProtocol: Record<string, bigint> = {};
  let deniedDestination = 0n;
  let deniedRoute = 0n;
  let timeouts = 0n;
  let capReached = 0n;
  for (const s of stats) {
    if (s.type !== "counter") continue;
    const name = s.name.replace(/^wasmcustom\./, "");
    const tags = new Map<string, string>();
    for (const m of name.matchAll(/([a-z_]+)=\.=(.*?);\.;/g)) tags.set(m[1]!, m[2]!);
    const metric = name.replace(/([a-z_]+)=\.=(.*?);\.;/g, "");
    if (metric === `protomesh_${prefix}_connections_total`) {
      const p = tags.get("protocol") ?? "(none)";
      byProtocol[p] = (byProtocol[p] ?? 0n) + s.value;
    } else if (metric === `protomesh_${prefix}_denied_total`) {
      if (tags.get("reason") === "destination") deniedDestination += s.value;
      else deniedRoute += s.value;
    } else if (metric === `protomesh_${prefix}_timeouts_total`) {
      timeouts += s.value;
    } else if (metric === `protomesh_${prefix}_cap_reached_total`) {
      capReached += s.value;
    }
  }
  const counted = Object.values(byProtocol).reduce((a, b) => a + b, 0n) + deniedDestination;
  return { byProtocol, deniedDestination, deniedRoute, timeouts, capReached, counted };
}

/**
 * More ticks and more connections left waiting than the generic fuzz defaults: with
 * detect_timeout_ms 1 a connection times out on its second tick, so the timeout path runs often.
 */
export const SNIFFER_FUZZ_TUNING = { tickChance: 0.1, lingerChance: 0.08, serverFirstChance: 0.15 } as const;

export async function runSnifferFuzz(options: {
  seed: number;
  iterations: number;
  filter?: string;
  print?: boolean;
  /** Only these modes (default all), each still seeded with the run's seed + its FUZZ_MODES index. */
  modes?: readonly FuzzMode[];
  tracePages?: boolean;
}): Promise<SnifferFuzzRun[]> {
  const modes = options.modes ?? FUZZ_MODES;
  const parts = split(options.iterations, modes.length);
  const runs: SnifferFuzzRun[] = [];
  for (const [k, mode] of modes.entries()) {
    const i = FUZZ_MODES.indexOf(mode);
    // One seed per mode derived from the run's seed, so each mode replays on its own.
    const seed = (options.seed + i) >>> 0;
    if (options.print) console.log(`fuzz:sniffer: mode=${mode} seed=${seed} iterations=${parts[k]}`);
    const result = await runFuzz({
      seed,
      iterations: parts[k]!,
      tracePages: options.tracePages,
      filter: options.filter ?? SNIFFER_WASM,
      configuration: fuzzConfig(mode),
      print: options.print,
      ...SNIFFER_FUZZ_TUNING,
    });
    const books = snifferBooks(result.stats);
    if (options.print) {
      console.log(describe(result));
      console.log(
        `fuzz:sniffer: counted ${books.counted} of ${result.connections} connections; ` +
          `timeouts=${books.timeouts} cap=${books.capReached} denied(route)=${books.deniedRoute} denied(destination)=${books.deniedDestination}; ` +
          Object.entries(books.byProtocol).map(([p, n]) => `${p}=${n}`).join(" "),
      );
    }
    runs.push({ mode, result, books });
    if (result.failure || books.counted !== BigInt(result.connections)) break;
  }
  return runs;
}

export function renderFuzzSection(runs: readonly SnifferFuzzRun[], seed: number): string {
  const total = runs.reduce((n, r) => n + r.result.iterations, 0);
  const seconds = runs.reduce((n, r) => n + r.result.elapsedMs, 0) / 1000;
  const ok = runs.every((r) => !r.result.failure && r.books.counted === BigInt(r.result.connections));
  const out = [
    FUZZ_HEADING,
    "",
    `Written by \`npm run fuzz:sniffer\` (fuzz/sniffer.ts) on ${new Date().toISOString()}; \`npm run bench\` keeps this section. Random (10 %), verbatim (10 %) and mutated (80 %) first flights of up to ${MAX_INPUT} bytes from the built-in seeds and every \`test/fixtures/captures/*.bin\`, split into 1–6 reads, random upstream bytes, random close order, connections left open for a while, random \`plugin.tick()\`; each mode runs with seed + its index. Pages are 64 KiB.`,
    "",
    `Result: **${ok ? "OK" : "FAILED"}**, ${total.toLocaleString("en-US")} first flights through the sniffer in ${seconds.toFixed(1)} s, run seed ${seed}.`,
    "",
    table(
      ["filter", "mode", "seed", "iterations", "time", "ticks", "traps", "pages loaded", "after warm-up", "end", "last growth", "open at once", "memory flat", "error logs", "counted once", "timeouts", "cap", "denied"],
      runs.map(({ mode, result: r, books: b }) => [
        r.filter,
        mode,
        String(r.seed),
        r.iterations.toLocaleString("en-US"),
        `${(r.elapsedMs / 1000).toFixed(1)} s`,
        r.ticks.toLocaleString("en-US"),
        r.failure && r.failure.kind !== "memory" ? `1 (${r.failure.kind})` : "0",
        String(r.pagesLoaded),
        String(r.pagesWarm),
        String(r.pagesEnd),
        r.lastGrowth === undefined ? "-" : r.lastGrowth.toLocaleString("en-US"),
        String(r.peakOpen),
        r.failure?.kind === "memory" ? "no" : "yes",
        String(r.errorLogs),
        b.counted === BigInt(r.connections) ? "yes" : `no (${b.counted}/${r.connections})`,
        String(b.timeouts),
        String(b.capReached),
        String(b.deniedRoute + b.deniedDestination),
      ]),
      ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l", "r", "l", "r", "r", "r"],
    ),
    "",
    `\`memory flat\`: the memory grew by at most ${DEFAULT_SLACK_PAGES} pages after warm-up, or it stopped growing: no growth in the second half of the mode's run and the heap's used-bytes floor (live objects when least garbage is pending) not more than ${FLOOR_SLACK_BYTES / 1024} KiB higher in the second half than in the first (fuzz/run.ts memoryVerdict). The allocator grows by doubling, so a live set that peaks once (connections open at once, up to \`open at once\`) costs one doubling; a leak keeps growing. \`last growth\`: the iteration after which the memory last grew.`,
    "",
    "`counted once`: the connections opened equal the sum of the sniffer's `connections_total` counters (one per protocol, mode and action) plus `denied_total{reason=destination}` (bypass closes those before classifying). Detected protocols:",
    "",
    ...runs.map(({ mode, books }) => `- ${mode}: ${Object.entries(books.byProtocol).filter(([, n]) => n > 0n).map(([p, n]) => `${p} ${n.toLocaleString("en-US")}`).join(", ")}`),
    "",
    "Configurations:",
    "",
    ...runs.map(({ mode }) => `- ${mode}: \`${fuzzConfig(mode)}\``),
  ];
  return out.join("\n");
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const program = new Command()
    .name("fuzz:sniffer")
    .description("Fuzz build/sniffer.wasm in route, bypass and observe mode; record the result in BENCHMARKS.md")
    .option("--seed <n>", "PRNG seed of the run (default random)", nonNegativeInt)
    .option("--iterations <n>", "first flights in total, split over the three modes", nonNegativeInt, 1_000_000)
    .option("--filter <path>", "sniffer module", SNIFFER_WASM)
    .option("--out <file>", "Markdown file whose fuzz section is replaced", path.join(REPO, "BENCHMARKS.md"))
    .option("--no-write", "do not write the Markdown file")
    .option("--mode <mode...>", `only these modes (${FUZZ_MODES.join(", ")}); implies --no-write`)
    .option("--trace-pages", "print the memory size and the heap at every growth and every 5 % of each mode's run");
  program.parse();
  const o = program.opts<{ seed?: number; iterations: number; filter: string; out: string; write: boolean; mode?: string[]; tracePages?: boolean }>();
  for (const m of o.mode ?? []) {
    if (!FUZZ_MODES.includes(m as FuzzMode)) throw new InvalidArgumentError(`--mode must be one of ${FUZZ_MODES.join(", ")}, found "${m}"`);
  }
  const modes = o.mode as FuzzMode[] | undefined;
  const seed = o.seed ?? randomInt(0, 0xffffffff - 2);
  const runs = await runSnifferFuzz({ seed, iterations: o.iterations, filter: o.filter, print: true, modes, tracePages: o.tracePages });
  const section = renderFuzzSection(runs, seed);
  console.log(section);
  const failed = runs.some((r) => r.result.failure || r.books.counted !== BigInt(r.result.connections));
  if (o.write && !modes) {
    const previous = await readFile(o.out, "utf8").catch(() => "# Benchmarks\n");
    await writeFile(o.out, replaceSection(previous, FUZZ_HEADING, section));
    console.log(`fuzz:sniffer: wrote ${FUZZ_HEADING} in ${path.relative(REPO, o.out)}`);
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`fuzz:sniffer: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
