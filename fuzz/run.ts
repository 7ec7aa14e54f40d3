/**
 * `npm run fuzz`: real first flights (mutated) and noise through a filter via the host
 * emulator, with random chunking, random upstream data and a random close order. Fails (exit 1)
 * when the VM traps (fails) or its memory keeps growing, printing the seed and the input.
 *
 *   npm run fuzz -- --seed 1234 --iterations 100000 --filter tcp-stats
 *   npm run fuzz -- --target config     (plugin configurations: fuzz/config.ts, also npm run fuzz:config)
 *   npm run fuzz -- --target dubbo-decoder [--seed N] [--iterations N]   (the Dubbo decoder alone: fuzz/dubbo.ts)
 *   npm run fuzz -- --target tls --seed 7   (ClientHellos vs a reference parser: fuzz/tls.ts)
 *   npm run fuzz -- --target thrift-filter [--seed N] [--iterations N]   (Thrift streams through build/thrift.wasm: fuzz/thrift-filter.ts, 10^6 by default)
 */
import { randomInt } from "node:crypto";
import { Command, InvalidArgumentError } from "commander";
import { Host, type StatSnapshot } from "../test/host/index.js";
import { loadPlugin, pluginFailed, pluginPages, resolveFilter, type FilterSpec } from "../tools/harness/drive.js";
import { SERVER_GREETING } from "../tools/harness/captures.js";
import { report, runIfMain } from "../tools/harness/cli.js";
import { loadCorpus, type Seed } from "./corpus.js";
import { MAX_INPUT, Mutator } from "./mutate.js";
import { Rng } from "./rng.js";
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
    if (!failure && pagesEnd > pagesWarm + slack) {
      failure = fail("memory", `memory grew from ${pagesWarm} pages after warm-up to ${pagesEnd} (slack ${slack})`);
    }
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

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function describe(result: FuzzResult): string {
  const lines = [
    `fuzz: filter=${result.filter} seed=${result.seed} iterations=${result.iterations.toLocaleString("en-US")} ` +
      `(${(result.elapsedMs / 1000).toFixed(1)} s, ${Math.round((result.iterations / result.elapsedMs) * 1000).toLocaleString("en-US")}/s)`,
    `fuzz: corpus of ${result.corpusSize} first flights; ${result.inputBytes.toLocaleString("en-US")} input bytes, ${result.downstreamCalls.toLocaleString("en-US")} downstream reads, ${result.upstreamCalls.toLocaleString("en-US")} upstream writes (${result.upstreamBytes.toLocaleString("en-US")} bytes)`,
    `fuzz: ${result.connections.toLocaleString("en-US")} connections (${result.lingered.toLocaleString("en-US")} left open for a while), ${result.ticks.toLocaleString("en-US")} ticks`,
    `fuzz: memory pages loaded=${result.pagesLoaded} after-warm-up=${result.pagesWarm} end=${result.pagesEnd}`,
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
    .option("--target <name>", "filters (mutated first flights through --filter), tls (ClientHellos through the sniffer vs fuzz/tls-reference.ts) thrift (the Thrift decoder: fuzz/thrift.ts), thrift-filter (Thrift streams through build/thrift.wasm: fuzz/thrift-filter.ts), config (plugin configurations: fuzz/config.ts) or dubbo-decoder (the Dubbo decoder: fuzz/dubbo.ts)", "filters");
  program.parse();
  const o = program.opts<{ seed?: number; iterations: number; filter: string; config: string; slackPages: number; warmup?: number; target: string }>();
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
    print: true,
  });
  report(describe(result), result.failure !== undefined);
}

runIfMain(import.meta.url, "fuzz", main);
